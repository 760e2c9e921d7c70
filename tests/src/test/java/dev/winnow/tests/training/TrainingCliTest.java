package dev.winnow.tests.training;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.winnow.engine.model.DcpCalibration;
import dev.winnow.gguf.GgufArray;
import dev.winnow.gguf.GgufFile;
import dev.winnow.gguf.GgufTensorInfo;
import dev.winnow.gguf.GgufValue;
import dev.winnow.gguf.GgufWriter;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tests.SharedFiles;
import dev.winnow.tests.cli.CliRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** train-pruning and perplexity on the real stories260K model and TinyStories text, end to end. */
class TrainingCliTest {
    private static final String[] SMALL_RUN = {"--gamma", "0.5", "--seq-len", "32", "--batch", "2", "--rank", "8",
            "--holdout", "0.02", "--eval-rows", "2", "--log-every", "1", "-t", "2"};

    /** A train-pruning command line: the small run's options, each replaced by {@code more}'s when given there. */
    private static String[] args(Path model, Path data, Path out, int steps, String... more) {
        List<String> all = new ArrayList<>(List.of("train-pruning", "-m", model.toString(), "--data", data.toString(),
                "-o", out.toString(), "--steps", Integer.toString(steps)));
        List<String> overrides = List.of(more);
        for (int i = 0; i < SMALL_RUN.length; i += 2) {
            if (!overrides.contains(SMALL_RUN[i])) {
                all.addAll(List.of(SMALL_RUN[i], SMALL_RUN[i + 1]));
            }
        }
        all.addAll(overrides);
        return all.toArray(String[]::new);
    }

    @Test
    void trainsAModelThatGenerateLoadsAndPrunesWith(@TempDir Path dir) throws IOException {
        Path base = SharedFiles.requireShared("models/stories260K.gguf");
        Path data = SharedFiles.requireShared("data/tinystories-dev.txt");
        Path out = dir.resolve("stories-dcp.gguf");
        CliRunner.Run run = CliRunner.run(args(base, data, out, 4, "--eval-every", "2", "--checkpoint-every", "2"));
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().matches("(?s).*winnow: train-pruning 100% 4/4 steps \\|[^\\n]*\\| loss .*"), run.err());
        assertTrue(run.err().contains("eval after step 2") && run.err().contains("eval after step 4"), run.err());
        assertTrue(run.err().contains("checkpoint written to " + out + ".checkpoint"), run.err());
        try (GgufFile trained = GgufFile.open(out); GgufFile original = GgufFile.open(base)) {
            assertEquals(0.5, trained.metadata().require("winnow.dcp.gamma").asDouble());
            assertEquals(4, trained.metadata().require("winnow.dcp.steps").asInt());
            assertEquals(8, trained.metadata().require("winnow.dcp.interaction_dim").asInt());
            assertEquals("stories260K.gguf", trained.metadata().require("winnow.dcp.base_model").asString());
            assertEquals(original.tensors().size() + 3 * 5, trained.tensors().size());
            for (GgufTensorInfo t : trained.tensors()) {
                assertEquals(GgmlType.F32, t.type(), t.name());
            }
        }
        CliRunner.Run generate = CliRunner.run("generate", "-m", out.toString(), "-p", "Once upon a time", "-n", "40",
                "--temperature", "0", "--prune", "dcp", "--stats");
        assertEquals(0, generate.exitCode(), generate.err());
        assertTrue(generate.out().startsWith("Once upon a time"), generate.out());
        assertTrue(generate.err().contains("sparsity") && generate.err().contains("pruning: dcp"), generate.err());
    }

    @Test
    void resumingFromACheckpointGivesTheSameModel(@TempDir Path dir) throws IOException {
        Path base = SharedFiles.requireShared("models/stories260K.gguf");
        Path data = SharedFiles.requireShared("data/tinystories-dev.txt");
        Path straight = dir.resolve("straight-dcp.gguf");
        CliRunner.Run run = CliRunner.run(args(base, data, straight, 4, "--checkpoint-every", "2", "--eval-every", "0"));
        assertEquals(0, run.exitCode(), run.err());
        Path checkpoint = dir.resolve("straight-dcp.gguf.checkpoint");
        CliRunner.Run refused = CliRunner.run(args(base, data, dir.resolve("x.gguf"), 4, "--resume", checkpoint.toString(),
                "--lr", "0.5"));
        assertEquals(1, refused.exitCode());
        assertTrue(refused.err().contains("--lr is 0.5 here and 5.0E-4 in the checkpoint"), refused.err());
        Path resumed = dir.resolve("resumed-dcp.gguf");
        CliRunner.Run second = CliRunner.run(args(base, data, resumed, 4, "--resume", checkpoint.toString(), "-t", "1"));
        assertEquals(0, second.exitCode(), second.err());
        assertTrue(second.err().contains("resumed at step 2") && !second.err().contains(" 2/4 steps"), second.err());
        assertSameTensors(straight, resumed);
    }

    @Test
    void killingARunAndResumingItGivesTheUninterruptedModel(@TempDir Path dir) throws Exception {
        Path base = SharedFiles.requireShared("models/stories260K.gguf");
        Path data = SharedFiles.requireShared("data/tinystories-dev.txt");
        Path root = Path.of(System.getProperty("user.dir")).toAbsolutePath().getParent();
        Path jar = root.resolve("cli/target/winnow.jar");
        if (!Files.isRegularFile(jar)) {
            System.err.println("skipped: " + jar + " is not built (run ./mvnw verify, not ./mvnw test)");
        }
        assumeTrue(Files.isRegularFile(jar), jar + " is not built (run ./mvnw verify)");
        String[] run = {"--seq-len", "16", "--batch", "1", "--eval-every", "0", "--checkpoint-every", "0", "-t", "1"};
        Path killed = dir.resolve("killed-dcp.gguf");
        List<String> command = new ArrayList<>(List.of(root.resolve("bin/winnow").toString()));
        command.addAll(List.of(args(base, data, killed, 300, run)));
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Path err = dir.resolve("err.txt");
        Process process = builder.redirectErrorStream(true).redirectOutput(err.toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.readString(err).contains(" 5/300 steps") && process.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        process.destroy(); // SIGTERM: the JVM runs its shutdown hooks, as on Ctrl-C
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the interrupted run did not stop");
        String log = Files.readString(err, StandardCharsets.UTF_8);
        assertTrue(log.contains("interrupted after step"), log);
        Path checkpoint = dir.resolve("killed-dcp.gguf.checkpoint");
        assertTrue(Files.exists(checkpoint), log);
        assertFalse(Files.exists(killed), "no model is written for an interrupted run");

        List<String> resume = new ArrayList<>(List.of(run));
        resume.addAll(List.of("--resume", checkpoint.toString(), "--log-every", "100"));
        CliRunner.Run resumed = CliRunner.run(args(base, data, killed, 300, resume.toArray(String[]::new)));
        assertEquals(0, resumed.exitCode(), resumed.err());
        Path straight = dir.resolve("straight-dcp.gguf");
        CliRunner.Run uninterrupted = CliRunner.run(args(base, data, straight, 300, run));
        assertEquals(0, uninterrupted.exitCode(), uninterrupted.err());
        assertSameTensors(straight, killed);
    }

    @Test
    void moduleModeWritesAnAdapter(@TempDir Path dir) throws IOException {
        Path base = SharedFiles.requireShared("models/stories260K.gguf");
        Path data = SharedFiles.requireShared("data/tinystories-dev.txt");
        Path adapter = dir.resolve("adapter-dcp.gguf");
        CliRunner.Run run = CliRunner.run(args(base, data, adapter, 2, "--mode", "module", "--adapter-only"));
        assertEquals(0, run.exitCode(), run.err());
        try (GgufFile file = GgufFile.open(adapter)) {
            assertEquals(3 * 5, file.tensors().size());
            assertEquals("module", file.metadata().require("winnow.dcp.mode").asString());
        }
        CliRunner.Run generate = CliRunner.run("generate", "-m", base.toString(), "-p", "Once upon a time", "-n", "20",
                "--prune", "dcp", "--prune-adapter", adapter.toString(), "--stats");
        assertEquals(0, generate.exitCode(), generate.err());
    }

    @Test
    void selfDistillationTrainsOnTheModelsOwnSamples(@TempDir Path dir) throws IOException {
        Path base = SharedFiles.requireShared("models/stories260K.gguf");
        Path out = dir.resolve("distilled-dcp.gguf");
        CliRunner.Run run = CliRunner.run("train-pruning", "-m", base.toString(), "--self-distill", "3", "--gamma", "0.2",
                "--steps", "2", "--seq-len", "24", "--batch", "2", "--rank", "8", "-o", out.toString());
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("self-distillation: 3 sampled sequences of 24 tokens (+1 held out)"), run.err());
        assertTrue(run.err().contains("eval after step 2 (24 held-out tokens): kl "), run.err());
        assertTrue(Files.size(out) > Files.size(base) / 2);
    }

    @Test
    void distillationOnTextMatchesTheDenseModel(@TempDir Path dir) throws IOException {
        Path base = SharedFiles.requireShared("models/stories260K.gguf");
        String stories = Files.readString(SharedFiles.requireShared("data/tinystories-dev.txt"));
        // A few stories: the teacher decodes every window of the text token by token.
        Path data = Files.writeString(dir.resolve("stories.txt"), stories.substring(0, 20_000));
        Path out = dir.resolve("text-distilled-dcp.gguf");
        CliRunner.Run run = CliRunner.run(args(base, data, out, 2, "--distill"));
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("distilled from the dense model on"), run.err());
        assertTrue(run.err().contains("eval after step 2 (64 held-out tokens): kl "), run.err());
        assertError(CliRunner.run("train-pruning", "-m", base.toString(), "--self-distill", "2", "--distill", "--gamma", "1",
                "--steps", "1", "-o", out.toString()), 2, "--distill needs --data");
    }

    @Test
    void badTrainingInputIsAClearError(@TempDir Path dir) throws IOException {
        Path base = SharedFiles.requireShared("models/stories260K.gguf");
        Path data = SharedFiles.requireShared("data/tinystories-dev.txt");
        Path out = dir.resolve("out.gguf");
        assertError(CliRunner.run("train-pruning", "-m", base.toString(), "--data", data.toString(), "--self-distill",
                "2", "--gamma", "1", "--steps", "1", "-o", out.toString()), 2, "mutually exclusive");
        assertError(CliRunner.run("train-pruning", "-m", base.toString(), "--data", data.toString(), "--steps", "1",
                "-o", out.toString()), 2, "--gamma and --steps are required");
        assertError(CliRunner.run(args(base, data, out, 1, "--adapter-only")), 2, "--adapter-only needs --mode module");
        assertError(CliRunner.run(args(base, data, out, 1, "--mode", "everything")), 1, "--mode must be all or module");
        assertError(CliRunner.run(args(base, data, out, 1, "--seq-len", "1")), 1, "--seq-len must be at least 2");
        assertError(CliRunner.run(args(base, dir.resolve("absent.txt"), out, 1)), 1, "absent.txt");
        Path tiny = Files.writeString(dir.resolve("tiny.txt"), "Once upon a time.");
        assertError(CliRunner.run(args(base, tiny, out, 1)), 1, "too few for one window");
        assertFalse(Files.exists(out));
    }

    @Test
    void perplexityReportsAsJsonAndAgreesWithItself(@TempDir Path dir) throws IOException {
        Path base = SharedFiles.requireShared("models/stories260K.gguf");
        Path text = heldOutText(dir, 1);
        CliRunner.Run dense = CliRunner.run("perplexity", "-m", base.toString(), "-f", text.toString(), "--ctx", "64",
                "-t", "1", "--json", "--kl-base", base.toString());
        assertEquals(0, dense.exitCode(), dense.err());
        JsonNode d = new ObjectMapper().readTree(dense.out());
        assertTrue(d.get("perplexity").asDouble() > 1 && d.get("perplexity").asDouble() < 20, dense.out());
        assertEquals(1.0, d.get("kept_fraction").asDouble(), 1e-12);
        assertEquals(0.0, d.get("sparsity").asDouble());
        assertEquals(0.0, d.get("kl").asDouble(), 1e-9);
        assertEquals(1.0, d.get("top1_agreement").asDouble());
        int tokens = d.get("tokens").asInt();
        assertTrue(tokens > 100, dense.out());

        CliRunner.Run window = CliRunner.run("perplexity", "-m", base.toString(), "-f", text.toString(), "--ctx", "64",
                "-t", "1", "--json", "--prune", "window:1:8", "--kl-base", base.toString());
        assertEquals(0, window.exitCode(), window.err());
        JsonNode w = new ObjectMapper().readTree(window.out());
        assertEquals(tokens, w.get("tokens").asInt());
        assertTrue(w.get("kept_fraction").asDouble() < 0.5 && w.get("sparsity").asDouble() > 0.5, window.out());
        assertTrue(w.get("kl").asDouble() > 0 && w.get("top1_agreement").asDouble() < 1, window.out());
        assertTrue(w.get("perplexity").asDouble() > d.get("perplexity").asDouble(), "a window of 8 tokens loses information");
        assertFalse(dense.out().contains("\n{"), "one JSON object");
        for (JsonNode layer : w.get("layer_pairs_kept")) { // the window keeps the same pairs in every layer
            assertEquals(1 - w.get("sparsity").asDouble(), layer.asDouble(), 1e-12, window.out());
        }
        assertError(CliRunner.run("perplexity", "-m", base.toString(), "-f", text.toString(), "--prune", "window:1:8",
                "--calibrate", dir.resolve("calibrated.gguf").toString()), 2, "--calibrate measures the module's own decisions");

        CliRunner.Run plain = CliRunner.run("perplexity", "-m", base.toString(), "-f", text.toString(), "--ctx", "32",
                "-t", "1");
        assertEquals(0, plain.exitCode(), plain.err());
        assertTrue(plain.out().startsWith("perplexity "), plain.out());
        assertError(CliRunner.run("perplexity", "-m", base.toString(), "-f", text.toString(), "--prune", "dcp"), 1,
                "--prune-adapter");
    }

    @Test
    void aMalformedCalibrationIsAClearError(@TempDir Path dir) throws IOException {
        Path base = SharedFiles.requireShared("models/stories260K.gguf");
        Path module = dir.resolve("module.gguf");
        assertEquals(0, CliRunner.run("dcp-init", "-m", base.toString(), "-o", module.toString()).exitCode());
        Path text = heldOutText(dir, 1);
        float[][][] bad = {{{0, 1}, {0.5f, 0.2f}}, {{1, 0}, {0.2f, 0.5f}}, {{0, 1, 2}, {0.2f, 0.5f}}, {{0, 1}, {0.2f, 1.5f}}};
        for (float[][] table : bad) {
            Path calibrated = dir.resolve("calibrated.gguf");
            try (GgufFile in = GgufFile.open(module)) {
                GgufWriter writer = new GgufWriter().putAll(in.metadata())
                        .put(DcpCalibration.OFFSETS_KEY, GgufValue.ofArray(GgufArray.ofFloat32s(table[0])))
                        .put(DcpCalibration.KEPT_KEY, GgufValue.ofArray(GgufArray.ofFloat32s(table[1])));
                for (GgufTensorInfo tensor : in.tensors()) {
                    writer.addTensor(tensor.name(), tensor.type(), tensor.shape(), in.tensorData(tensor));
                }
                writer.write(calibrated);
            }
            assertError(CliRunner.run("perplexity", "-m", base.toString(), "--prune-adapter", calibrated.toString(),
                    "-f", text.toString(), "--ctx", "64", "--prune", "dcp:keep=0.3"), 1, "calibrated.gguf: " + DcpCalibration.OFFSETS_KEY);
        }
    }

    /** The first {@code stories} stories of the last part of the TinyStories file, as their own text file. */
    static Path heldOutText(Path dir, int stories) throws IOException {
        String all = Files.readString(SharedFiles.requireShared("data/tinystories-dev.txt"), StandardCharsets.UTF_8);
        String[] parts = all.split("\n<\\|endoftext\\|>\n");
        StringBuilder text = new StringBuilder();
        for (int i = parts.length - stories; i < parts.length; i++) {
            text.append(parts[i].strip()).append("\n<|endoftext|>\n");
        }
        return Files.writeString(dir.resolve("held-out.txt"), text.toString());
    }

    private static void assertSameTensors(Path a, Path b) throws IOException {
        try (GgufFile x = GgufFile.open(a); GgufFile y = GgufFile.open(b)) {
            assertEquals(x.tensors().size(), y.tensors().size());
            for (GgufTensorInfo t : x.tensors()) {
                MemorySegment first = x.tensorData(t);
                MemorySegment second = y.tensorData(y.tensor(t.name()).orElseThrow());
                assertEquals(-1, first.mismatch(second), "tensor " + t.name() + " differs");
            }
        }
    }

    private static void assertError(CliRunner.Run run, int code, String mention) {
        assertEquals(code, run.exitCode(), run.err());
        assertTrue(run.err().contains(mention), "should mention " + mention + ": " + run.err());
        assertFalse(run.err().contains("\tat "), run.err());
    }
}
