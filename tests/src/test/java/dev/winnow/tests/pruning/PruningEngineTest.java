package dev.winnow.tests.pruning;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.EngineConfig;
import dev.winnow.engine.runtime.Sequence;
import dev.winnow.engine.runtime.SequenceOptions;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.tensors.VectorMath;
import dev.winnow.tests.SharedFiles;
import dev.winnow.tests.cli.CliRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Pruning on the real stories260K model, through the engine and the command line. */
class PruningEngineTest {
    private static final int[] PROMPT = {1, 403, 407, 261, 378};

    @Test
    void aModuleWithALargeBiasGivesExactlyTheDenseLogits(@TempDir Path dir) throws IOException {
        Path base = SharedFiles.requireShared("models/stories260K.gguf");
        Path adapter = dir.resolve("keep-all.gguf");
        CliRunner.Run init = CliRunner.run("dcp-init", "-m", base.toString(), "-o", adapter.toString(), "--bias", "1000",
                "--seed", "7");
        assertEquals(0, init.exitCode(), init.err());
        try (Model plain = Model.load(base); Model pruned = Model.load(base, adapter)) {
            float[][] dense = greedyLogits(plain, new PruningPolicy.None());
            float[][] withModule = greedyLogits(pruned, new PruningPolicy.Dcp());
            for (int step = 0; step < dense.length; step++) {
                assertArrayEquals(dense[step], withModule[step], "logits differ at step " + step);
            }
        }
    }

    private static float[][] greedyLogits(Model model, PruningPolicy policy) {
        int steps = 80;
        int context = PROMPT.length + steps;
        try (Engine engine = new Engine(model, EngineConfig.single(2, context, policy))) {
            Sequence session = engine.newSequence(SequenceOptions.forced(null));
            float[][] all = new float[steps][];
            float[] logits = session.prefill(PROMPT);
            for (int i = 0; i < steps; i++) {
                all[i] = logits.clone();
                logits = session.feed(VectorMath.argmax(logits, 0, logits.length));
            }
            return all;
        }
    }

    @Test
    void windowAndHeavyHittersKeepWhatTheyPromise() throws IOException {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        String reference = Files.readString(SharedFiles.requireShared("models/reference/once-upon-a-time.txt"));
        for (String[] policy : new String[][] {{"window:4:32", "36"}, {"h2o:32:8", "40"}, {"tova:40", "40"}}) {
            CliRunner.Run run = CliRunner.run("generate", "-m", model.toString(), "-p", "Once upon a time", "-n", "196",
                    "--temperature", "0", "--prune", policy[0], "--stats");
            assertEquals(0, run.exitCode(), run.err());
            // 201 tokens seen, the policy's number held in every layer.
            for (int layer = 0; layer < 5; layer++) {
                assertTrue(run.err().matches("(?s).*\\n\\s+" + layer + "\\s+" + policy[1] + "\\s.*"), policy[0] + ": " + run.err());
            }
            // Until the cache reaches the policy's size nothing is dropped, so the story starts exactly as without pruning.
            int identical = Integer.parseInt(policy[1]) - PROMPT.length;
            assertEquals(prefixOfTokens(reference, identical, model), prefixOfTokens(run.out(), identical, model), policy[0]);
        }
    }

    /** The first {@code n} generated tokens of a text, via the tokenize command. */
    private static String prefixOfTokens(String text, int n, Path model) {
        CliRunner.Run tokens = CliRunner.run("tokenize", "-m", model.toString(), text.strip());
        String[] ids = tokens.out().strip().split(" ");
        return String.join(" ", Arrays.copyOfRange(ids, 0, PROMPT.length - 1 + n));
    }

    @Test
    void randomDcpModuleRunsAndTheLayersDiffer(@TempDir Path dir) throws IOException {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        Path adapter = dir.resolve("random.gguf");
        assertEquals(0, CliRunner.run("dcp-init", "-m", model.toString(), "-o", adapter.toString(), "--bias", "0.05",
                "--std", "0.1", "--rank", "16", "--seed", "3").exitCode());
        Path json = dir.resolve("trace.json");
        Path html = dir.resolve("trace.html");
        CliRunner.Run run = CliRunner.run("generate", "-m", model.toString(), "-p", "Once upon a time", "-n", "60",
                "--temperature", "0", "--prune", "dcp", "--prune-adapter", adapter.toString(), "--stats",
                "--explain-json", json.toString(), "--explain", html.toString());
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("sparsity"), run.err());
        JsonNode trace = new ObjectMapper().readTree(json.toFile());
        assertEquals("dcp", trace.get("policy").asText());
        assertEquals(65, trace.get("tokens").size());
        long[] keptPerLayer = new long[5];
        for (JsonNode token : trace.get("tokens")) {
            for (int l = 0; l < 5; l++) {
                if (token.get("layers").get(l).get("dropped_at").isNull()) {
                    keptPerLayer[l]++;
                }
            }
        }
        assertTrue(Arrays.stream(keptPerLayer).distinct().count() > 1, "layers should differ: " + Arrays.toString(keptPerLayer));
        assertTrue(Arrays.stream(keptPerLayer).allMatch(k -> k < 65), "a random module prunes: " + Arrays.toString(keptPerLayer));
        String page = Files.readString(html, StandardCharsets.UTF_8);
        assertTrue(page.contains("\"policy\":\"dcp\""), "the page embeds the trace");
        assertFalse(page.contains("http://") || page.contains("https://"), "the page needs no network");
    }

    @Test
    void badPruningInputIsAClearError(@TempDir Path dir) throws IOException {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        // A wrong spec is a wrong command line (exit 2), named in the message, for every command that takes one.
        String[][] badSpecs = {{"window:4", "'window' takes 2 numbers"}, {"magic", "unknown pruning policy"},
                {"dcp:keep=1.5", "0 < F <= 1"}, {"dcp:keep=0", "0 < F <= 1"}, {"dcp:keep=most", "not a fraction"},
                {"dcp:budget=0", "N >= 1"}, {"dcp:budget=12.5", "not a whole number"},
                {"dcp:window=3", "none of keep=F, budget=N, offset=X and recent=W"}, {"dcp:offset=NaN", "finite X"},
                {"dcp:offset=x", "not a number"},
                {"dcp:budget=4:2", "'dcp' takes one target"}, {"dcp:recent=-1", "W >= 0"},
                {"dcp:keep=0.3:recent=64", "not keep=0.3"}, {"dcp:recent=8:recent=9:offset=1", "at most a target and recent=W"}};
        for (String[] bad : badSpecs) {
            for (String[] command : new String[][] {{"generate", "-p", "x"}, {"perplexity", "-f", model.toString()},
                    {"bench", "-p", "4", "-n", "4"}, {"chat"}, {"serve", "--port", "0"}}) {
                String[] args = Stream.concat(Stream.of(command), Stream.of("-m", model.toString(), "--prune", bad[0]))
                        .toArray(String[]::new);
                CliRunner.Run run = CliRunner.run(args);
                assertEquals(2, run.exitCode(), String.join(" ", args) + ": " + run.err());
                assertTrue(run.err().contains("--prune " + bad[0] + ": ") && run.err().contains(bad[1]),
                        String.join(" ", args) + ": " + run.err());
            }
        }
        assertError(CliRunner.run("generate", "-m", model.toString(), "-p", "x", "--prune", "dcp"), "--prune-adapter");
        // An adapter made for another model: the tiny vocabulary-only shape differs.
        Path other = dir.resolve("other.gguf");
        dev.winnow.tests.model.TinyLlama.random(1, 16, 2, 4, 2, 40, 512, 64, 4, true)
                .withDcp(dev.winnow.tests.model.TinyLlama.Dcp.random(2, 2, 16, 8, 0.1, new float[] {1, 1}))
                .write(other);
        assertError(CliRunner.run("generate", "-m", model.toString(), "-p", "x", "--prune", "dcp", "--prune-adapter",
                other.toString()), "shape");
    }

    private static void assertError(CliRunner.Run run, String mention) {
        assertTrue(run.exitCode() != 0, run.err());
        assertTrue(run.err().contains(mention), "should mention " + mention + ": " + run.err());
        assertFalse(run.err().contains("\tat "), run.err());
    }
}
