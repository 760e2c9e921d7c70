package dev.winnow.tests.cli;

import dev.winnow.gguf.GgufFile;
import dev.winnow.gguf.GgufTensorInfo;
import dev.winnow.gguf.GgufWriter;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad flags, missing files and bad models end with one clear line and a non-zero exit, never a stack trace. */
class CliErrorsTest {

    @Test
    void unknownOptionIsAUsageError() {
        assertOneLineError(CliRunner.run("generate", "--no-such-flag", "-m", "x.gguf", "-p", "hi"), 2, "--no-such-flag");
    }

    @Test
    void missingRequiredOptionIsAUsageError() {
        assertOneLineError(CliRunner.run("generate", "-p", "hi"), 2, "--model");
    }

    @Test
    void malformedNumberIsAUsageError() {
        assertOneLineError(CliRunner.run("generate", "-m", "x.gguf", "-p", "hi", "-n", "many"), 2, "many");
    }

    @Test
    void missingModelFileNamesTheFile(@TempDir Path dir) {
        Path missing = dir.resolve("absent.gguf");
        assertOneLineError(CliRunner.run("generate", "-m", missing.toString(), "-p", "hi"), 1, "absent.gguf");
    }

    @Test
    void garbageFileIsAFormatError(@TempDir Path dir) throws IOException {
        Path garbage = Files.writeString(dir.resolve("garbage.gguf"), "this is not a model at all");
        assertOneLineError(CliRunner.run("inspect", garbage.toString()), 1, "malformed GGUF");
        assertOneLineError(CliRunner.run("generate", "-m", garbage.toString(), "-p", "hi"), 1, "malformed GGUF");
    }

    @Test
    void truncatedModelIsAFormatError(@TempDir Path dir) throws IOException {
        Path model = SharedFiles.requireShared("models/stories260K-q8_0.gguf");
        byte[] bytes = Files.readAllBytes(model);
        Path truncated = Files.write(dir.resolve("truncated.gguf"), java.util.Arrays.copyOf(bytes, bytes.length / 2));
        assertOneLineError(CliRunner.run("generate", "-m", truncated.toString(), "-p", "hi"), 1, "malformed GGUF");
    }

    @Test
    void vocabularyOnlyFileIsNotARunnableModel(@TempDir Path dir) throws IOException {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        Path vocabularyOnly = dir.resolve("vocabulary-only.gguf");
        try (GgufFile source = GgufFile.open(model)) {
            GgufWriter writer = new GgufWriter();
            source.metadata().asMap().forEach((key, value) -> {
                if (key.startsWith("tokenizer.") || key.equals("general.architecture")) {
                    writer.put(key, value);
                }
            });
            writer.write(vocabularyOnly);
        }
        assertOneLineError(CliRunner.run("generate", "-m", vocabularyOnly.toString(), "-p", "hi"), 1,
                "cannot run this model");
        CliRunner.Run tokens = CliRunner.run("tokenize", "-m", vocabularyOnly.toString(), "Once upon a time");
        assertEquals(0, tokens.exitCode(), tokens.err());
        assertEquals("403 407 261 378", tokens.out().strip());
    }

    @Test
    void unsupportedArchitectureIsNamed(@TempDir Path dir) throws IOException {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        Path other = dir.resolve("mamba.gguf");
        try (GgufFile source = GgufFile.open(model)) {
            GgufWriter writer = new GgufWriter();
            source.metadata().asMap().forEach(writer::put);
            writer.putString("general.architecture", "mamba");
            for (GgufTensorInfo t : source.tensors()) {
                writer.addTensor(t.name(), t.type(), t.shape(), source.tensorData(t));
            }
            writer.write(other);
        }
        CliRunner.Run run = CliRunner.run("generate", "-m", other.toString(), "-p", "hi");
        assertOneLineError(run, 1, "unsupported architecture 'mamba'");
        assertTrue(run.err().contains("qwen2") && run.err().contains("gpt2"), "lists what is supported: " + run.err());
    }

    @Test
    void unsupportedTensorTypeIsNamed(@TempDir Path dir) throws IOException {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        Path retyped = dir.resolve("retyped.gguf");
        try (GgufFile source = GgufFile.open(model)) {
            GgufWriter writer = new GgufWriter();
            source.metadata().asMap().forEach(writer::put);
            for (GgufTensorInfo t : source.tensors()) {
                boolean swap = t.name().equals("blk.2.attn_q.weight");
                // Same bytes, declared as I32: a type Winnow can read but not compute with.
                writer.addTensor(t.name(), swap ? GgmlType.I32 : t.type(), t.shape(), source.tensorData(t));
            }
            writer.write(retyped);
        }
        CliRunner.Run run = CliRunner.run("generate", "-m", retyped.toString(), "-p", "hi");
        assertOneLineError(run, 1, "blk.2.attn_q.weight");
        assertTrue(run.err().contains("I32"), run.err());
    }

    @Test
    void invalidSamplingValuesAreRejected() {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        assertOneLineError(CliRunner.run("generate", "-m", model.toString(), "-p", "hi", "--temperature", "-1"), 2,
                "temperature");
        assertOneLineError(CliRunner.run("generate", "-m", model.toString(), "-p", "hi", "--threads", "0"), 2,
                "--threads");
    }

    @Test
    void askingForMoreThanTheContextIsAClearError() {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        CliRunner.Run run = CliRunner.run("generate", "-m", model.toString(), "-p", "Once", "-n", "100", "--ctx", "50");
        assertEquals(1, run.exitCode());
        assertTrue(run.err().contains("--ctx"), run.err());
        assertFalse(run.err().contains("\tat "), run.err());
    }

    private static void assertOneLineError(CliRunner.Run run, int exitCode, String mention) {
        assertAll(
                () -> assertEquals(exitCode, run.exitCode(), run.err()),
                () -> assertTrue(run.err().contains(mention), "stderr should mention " + mention + ": " + run.err()),
                () -> assertFalse(run.err().contains("\tat "), "no stack trace: " + run.err()),
                () -> assertFalse(run.err().contains("Exception"), "no exception names: " + run.err()));
    }
}
