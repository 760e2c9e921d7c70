package dev.winnow.tests.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The trace behind the --explain page (and --explain-json) says what the page shows: the model and module, where
 * the prompt ends, each layer's sparsity, and special tokens by name. The page itself is rendered in
 * {@code ExplainPageBrowserTest}.
 */
class ExplainPageTest {
    private static final String PROMPT = "Once upon a time";

    private static CliRunner.Run explain(String... outputs) {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        List<String> args = new ArrayList<>(List.of("generate", "-m", model.toString(), "-p", PROMPT, "-n", "30",
                "--temp", "0", "--prune", "window:2:10"));
        args.addAll(List.of(outputs));
        return CliRunner.run(args.toArray(String[]::new));
    }

    @Test
    void theTraceNamesTheModelThePromptAndEachLayersSparsity(@TempDir Path dir) throws IOException {
        Path json = dir.resolve("trace.json");
        CliRunner.Run run = explain("--explain-json", json.toString());
        assertEquals(0, run.exitCode(), run.err());
        JsonNode trace = new ObjectMapper().readTree(json.toFile());
        assertEquals("stories260K.gguf", trace.get("model").asText());
        assertTrue(trace.get("module").isNull(), "window pruning uses no module");
        assertEquals(5, trace.get("prompt_tokens").asInt(), "BOS and the 4 tokens of the prompt");
        int n = trace.get("tokens").size();
        assertEquals(35, n);
        JsonNode first = trace.get("tokens").get(0);
        assertEquals("<s>", first.get("text").asText(), "BOS by name, not as the nothing it decodes to");
        assertTrue(first.get("special").asBoolean());
        assertFalse(trace.get("tokens").get(1).get("special").asBoolean());
        // window:2:10 keeps the first 2 and the last 10: token k (2 <= k < n - 10) is dropped at step k + 10,
        // so the steps from there to the end (n - k - 10 of them) do not see it.
        long pruned = 0;
        for (int k = 2; k < n - 10; k++) {
            pruned += n - k - 10;
        }
        double expected = pruned / (n * (n - 1) / 2.0);
        assertEquals(5, trace.get("layer_sparsity").size());
        for (JsonNode layer : trace.get("layer_sparsity")) {
            assertEquals(expected, layer.asDouble(), 1e-9);
        }
    }
}
