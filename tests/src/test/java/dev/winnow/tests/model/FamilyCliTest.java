package dev.winnow.tests.model;

import dev.winnow.engine.model.Architecture;
import dev.winnow.tests.cli.CliRunner;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Assumptions;
import dev.winnow.gguf.GgufFile;
import dev.winnow.gguf.GgufFormatException;
import dev.winnow.tests.SharedFiles;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code inspect} and {@code generate} work on a model of every supported family. */
class FamilyCliTest {

    /** A GPT-2-family model with GPT-2's real byte-level BPE vocabulary, and a Llama one with Llama 2's SentencePiece vocabulary. */
    @ParameterizedTest
    @CsvSource({"gpt2, ggml-vocab-gpt-2.gguf, 50257", "qwen2, ggml-vocab-gpt-2.gguf, 50257", "llama, ggml-vocab-llama-spm.gguf, 32000"})
    void generateWithARealVocabulary(String family, String vocabularyFile, int size, @TempDir Path dir) throws Exception {
        Path vocabulary = SharedFiles.requireShared("vocab/" + vocabularyFile);
        Path file = dir.resolve(family + ".gguf");
        try (GgufFile source = GgufFile.open(vocabulary)) {
            TinyLlama.random(13, 32, 1, 4, 2, 48, size, 64, 8, true)
                    .as(Architecture.of(family).orElseThrow(), 14).write(file, source.metadata());
        } catch (GgufFormatException damaged) {
            Assumptions.abort(vocabulary + " is damaged (" + damaged.getMessage() + "); set WINNOW_VOCAB_DIR, see README");
        }
        CliRunner.Run generate = CliRunner.run("generate", "-m", file.toString(), "-p", "Hello, world! Café", "-n", "8",
                "--temperature", "0");
        assertEquals(0, generate.exitCode(), generate.err());
        assertTrue(generate.out().startsWith("Hello, world! Café"), generate.out());
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2", "qwen3", "phi3", "gpt2"})
    void inspectAndGenerate(String family, @TempDir Path dir) throws Exception {
        Path file = dir.resolve(family + ".gguf");
        TinyLlama.random(11, 32, 2, 4, 2, 48, 40, 64, 8, false)
                .as(Architecture.of(family).orElseThrow(), 12).write(file);

        CliRunner.Run inspect = CliRunner.run("inspect", file.toString());
        assertEquals(0, inspect.exitCode(), inspect.err());
        assertTrue(inspect.out().contains("general.architecture") && inspect.out().contains('"' + family + '"'), inspect.out());

        CliRunner.Run generate = CliRunner.run("generate", "-m", file.toString(), "-p", "", "-n", "12", "--temperature", "0");
        assertEquals(0, generate.exitCode(), generate.err());
        // A random model may emit its end-of-text token early; what matters is that generation ran and stopped cleanly.
        assertTrue(generate.err().matches("(?s).*generated \\d+ tokens.*stop: (token limit|end of generation).*"), generate.err());
    }
}
