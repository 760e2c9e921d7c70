package dev.winnow.tests.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What {@code bench} and {@code generate} say about speed: bench warms up and says so, compares a pruning policy
 * with the dense cache in the same run; generate's summary keeps the first token's wait apart from the steady
 * speeds. No assertion depends on how fast this machine is.
 */
class SpeedReportsTest {

    @Test
    void benchWithPruningComparesWithDenseAfterAWarmUp() {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        CliRunner.Run run = CliRunner.run("bench", "-m", model.toString(), "-p", "24", "-n", "8", "-r", "2", "-d", "0,16",
                "-t", "1", "--prune", "window:2:6");
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("runs once untimed before it is measured"), run.err());
        // Loaded as every command loads a model: with the progress display when slow, and one line when done.
        assertTrue(run.err().contains("winnow: loaded stories260K.gguf (5 layers"), run.err());
        assertTrue(run.out().contains("after one untimed warm-up run of each test"), run.out());
        assertTrue(run.out().contains("| test | window:2:6 t/s | dense t/s | ratio |"), run.out());
        List<String> ratios = run.out().lines().filter(line -> line.matches("\\| (pp24|tg8)( @ d16)? \\| [\\d.]+ \\| [\\d.]+ \\| [\\d.]+x \\|"))
                .toList();
        assertEquals(4, ratios.size(), run.out());
    }

    @Test
    void benchJsonKeepsItsFieldsAndAddsTheDenseRunAndTheTimeFromJvmStart() throws Exception {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        CliRunner.Run run = CliRunner.run("bench", "-m", model.toString(), "-p", "16", "-n", "4", "-r", "1", "-t", "1",
                "--prune", "tova:8", "--json");
        assertEquals(0, run.exitCode(), run.err());
        JsonNode report = new ObjectMapper().readTree(run.out());
        for (String field : List.of("model", "model_bytes", "threads", "n_prompt", "n_gen", "reps", "ctx", "kv_type", "prune",
                "load_ms", "ttft_ms", "pp_tps", "tg_tps", "pp_tps_all", "tg_tps_all", "peak_rss_bytes", "kv_bytes", "depths")) {
            assertTrue(report.has(field), field + " in " + report);
        }
        assertTrue(report.get("ttft_s").asDouble() * 1000 >= report.get("ttft_ms").asDouble(),
                "the JVM started before the model was loaded: " + report);
        assertEquals(1, report.get("dense").size(), report.toString());
        assertTrue(report.get("dense").get(0).get("tg_tps").asDouble() > 0, report.toString());
        CliRunner.Run dense = CliRunner.run("bench", "-m", model.toString(), "-p", "16", "-n", "4", "-r", "1", "--json");
        assertTrue(!new ObjectMapper().readTree(dense.out()).has("dense"), "no comparison without --prune: " + dense.out());
    }

    @Test
    void generateSaysWhenTheFirstTokenCameApartFromTheSteadySpeeds() throws Exception {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        Launcher.Result r = Launcher.launch("", Map.of(), "generate", "-m", model.toString(), "-p", "Once upon a time",
                "-n", "40", "--temp", "0");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.err().lines().anyMatch(line -> line.matches("winnow: first token after \\d+\\.\\d\\d s \\| prompt \\d+ tokens, "
                + "[\\d.]+ tok/s \\| generated 40 tokens, [\\d.]+ tok/s after the first \\| stop: token limit")), r.err());
    }
}
