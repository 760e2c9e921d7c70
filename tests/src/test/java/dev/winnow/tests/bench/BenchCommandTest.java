package dev.winnow.tests.bench;

import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.kv.PagePool;
import dev.winnow.engine.model.LlamaConfig;
import dev.winnow.engine.model.Model;
import dev.winnow.tests.SharedFiles;
import dev.winnow.tests.cli.CliRunner;
import dev.winnow.tests.model.TinyLlama;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code winnow bench} on a real model and on a generated one: the JSON report is one valid object with every
 * field, consistent medians and a KV size that matches what was stored; the table has a row per test. Speeds are
 * whatever this machine gives: nothing here depends on how fast it is.
 */
class BenchCommandTest {

    @Test
    void benchOnStories260KPrintsOneJsonObject() throws IOException {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        CliRunner.Run run = CliRunner.run("bench", "-m", model.toString(), "-p", "40", "-n", "12", "-r", "3", "-t", "2", "--json");
        assertEquals(0, run.exitCode(), run.err());
        Map<String, Object> report = parseOneLine(run.out());
        checkSpeeds(report, 3, 3);
        assertEquals(2.0, report.get("threads"));
        assertEquals(model.toString(), report.get("model"));
        assertEquals((double) Files.size(model), report.get("model_bytes"));
        assertEquals(40.0, report.get("ctx"), "depth 0 + max(40, 12) tokens");
        checkKvBytes(model, report, 40);
        assertTrue(((Double) report.get("ttft_ms")) >= ((Double) report.get("load_ms")), "the first token comes after loading");
        if (Files.exists(Path.of("/proc/self/status"))) {
            assertTrue(((Double) report.get("peak_rss_bytes")) > 1 << 20, "peak RSS " + report.get("peak_rss_bytes"));
        }
    }

    @Test
    void benchOnAGeneratedModelMeasuresEveryDepth(@TempDir Path dir) throws IOException {
        Path model = tinyModel(dir);
        CliRunner.Run run = CliRunner.run("bench", "-m", model.toString(), "-p", "9", "-n", "5", "-r", "2",
                "--depth", "0,20", "-t", "1", "--json");
        assertEquals(0, run.exitCode(), run.err());
        Map<String, Object> report = parseOneLine(run.out());
        checkSpeeds(report, 2, 2);
        List<?> depths = (List<?>) report.get("depths");
        assertEquals(2, depths.size());
        assertEquals(0.0, ((Map<?, ?>) depths.get(0)).get("depth"));
        assertEquals(20.0, ((Map<?, ?>) depths.get(1)).get("depth"));
        for (Object depth : depths) {
            checkSpeeds((Map<?, ?>) depth, 2, 2);
        }
        assertEquals(report.get("pp_tps"), ((Map<?, ?>) depths.get(0)).get("pp_tps"), "top-level speeds are the first depth's");
        assertEquals(29.0, report.get("ctx"));
        checkKvBytes(model, report, 29);
    }

    @Test
    void aSkippedTestHasNoSpeed(@TempDir Path dir) throws IOException {
        CliRunner.Run run = CliRunner.run("bench", "-m", tinyModel(dir).toString(), "-p", "0", "-n", "4", "-r", "2", "--json");
        assertEquals(0, run.exitCode(), run.err());
        Map<String, Object> report = parseOneLine(run.out());
        assertNull(report.get("pp_tps"));
        assertEquals(List.of(), report.get("pp_tps_all"));
        checkSpeeds(report, 0, 2);
    }

    @Test
    void theTableHasARowPerTestAndDepth(@TempDir Path dir) throws IOException {
        CliRunner.Run run = CliRunner.run("bench", "-m", tinyModel(dir).toString(), "-p", "6", "-n", "3", "-r", "1",
                "-d", "0,4");
        assertEquals(0, run.exitCode(), run.err());
        List<String> rows = run.out().lines().filter(line -> line.startsWith("| tiny.gguf")).toList();
        assertEquals(4, rows.size(), run.out());
        assertTrue(rows.get(0).contains("| pp6 |"), rows.get(0));
        assertTrue(rows.get(1).contains("| tg3 |"), rows.get(1));
        assertTrue(rows.get(2).contains("| pp6 @ d4 |"), rows.get(2));
        assertTrue(rows.get(3).contains("| tg3 @ d4 |"), rows.get(3));
        assertTrue(run.out().contains("peak resident memory"), run.out());
    }

    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {
            "-p;0;-n;0;2;nothing to measure",
            "-r;0;-n;2;2;--reps must be at least 1",
            "-t;0;-n;2;2;--threads must be at least 1",
            "-d;3,-1;-n;2;2;--depth must list depths of 0 or more",
            "-p;-4;-n;2;2;must be 0 or more",
            "-d;2000000000;-n;2;2;depth + tokens is too large"})
    void badOptionsAreRefusedWithAReason(String option, String value, String other, String otherValue, int exitCode,
                                         String mention, @TempDir Path dir) throws IOException {
        CliRunner.Run run = CliRunner.run("bench", "-m", tinyModel(dir).toString(), option, value, other, otherValue);
        assertEquals(exitCode, run.exitCode(), run.err());
        assertTrue(run.err().contains(mention), run.err());
        assertFalse(run.err().contains("\tat "), run.err());
    }

    @Test
    void aMissingModelIsReported(@TempDir Path dir) {
        CliRunner.Run run = CliRunner.run("bench", "-m", dir.resolve("absent.gguf").toString(), "--json");
        assertEquals(1, run.exitCode());
        assertTrue(run.err().contains("file not found"), run.err());
        assertEquals("", run.out());
    }

    /** The check above would catch output that is not exactly one JSON value. */
    @Test
    void theJsonReaderRejectsWhatIsNotJson() {
        for (String bad : new String[] {"{\"a\":1,}", "{\"a\":NaN}", "{a:1}", "{\"a\":1} x", "[1 2]", "{\"a\":1,\"a\":2}", ""}) {
            assertThrows(IllegalArgumentException.class, () -> Json.parse(bad), bad);
        }
        assertEquals(Map.of("a", List.of(1.5, -2e3), "b", "q\"\n"), Json.parse(" {\"a\":[1.5,-2E3],\"b\":\"q\\\"\\n\"} "));
    }

    private static Path tinyModel(Path dir) throws IOException {
        Path file = dir.resolve("tiny.gguf");
        TinyLlama.random(7, 32, 2, 4, 2, 88, 50, 64, 8, false).write(file);
        return file;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> parseOneLine(String out) {
        assertEquals(1, out.lines().count(), "one line on stdout: " + out);
        return (Map<String, Object>) Json.parse(out.strip());
    }

    /** Every speed positive and finite, one per repetition, the median being the middle of them. */
    private static void checkSpeeds(Map<?, ?> report, int ppCount, int tgCount) {
        for (String test : new String[] {"pp", "tg"}) {
            List<?> all = (List<?>) report.get(test + "_tps_all");
            assertEquals(test.equals("pp") ? ppCount : tgCount, all.size(), test + "_tps_all " + all);
            double[] values = all.stream().mapToDouble(v -> (Double) v).sorted().toArray();
            for (double v : values) {
                assertTrue(v > 0 && Double.isFinite(v), test + " speed " + v);
            }
            if (values.length > 0) {
                double median = values.length % 2 == 1 ? values[values.length / 2]
                        : (values[values.length / 2 - 1] + values[values.length / 2]) / 2;
                assertEquals(median, (Double) report.get(test + "_tps"), 2e-3, test + "_tps is the median of " + Arrays.toString(values));
            }
        }
    }

    /**
     * The largest sequence of a run holds {@code tokens} tokens in every layer: the KV bytes are those of the
     * pages that take, at most one partly filled page per layer more than the tokens need.
     */
    private static void checkKvBytes(Path model, Map<String, Object> report, int tokens) throws IOException {
        try (Model loaded = Model.load(model)) {
            LlamaConfig c = loaded.config();
            KvCacheConfig kv = KvCacheConfig.defaults();
            long pageBytes = PagePool.pageBytes(c.kvHeads(), c.headDim(), 0, kv.pageSize(), kv.storage());
            long pagesPerLayer = (tokens + kv.pageSize() - 1) / kv.pageSize();
            assertEquals((double) (pagesPerLayer * c.layers() * pageBytes), report.get("kv_bytes"));
        }
    }
}
