package dev.winnow.tests.pruning;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.winnow.engine.model.DcpCalibration;
import dev.winnow.gguf.GgufFile;
import dev.winnow.tests.SharedFiles;
import dev.winnow.tests.cli.CliRunner;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.lifecycle.AddLifecycleHook;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --prune dcp:keep=F} keeps about F of the (query, earlier token) pairs on text the module never saw: a
 * module trained briefly on the first stories of tinystories-dev.txt (module only, gamma 0.2, so on its own it
 * keeps far less than most targets), measured by {@code perplexity --json} on the first held-out stories (the
 * last 30 of the file, as docs/results.md holds out) in windows of 512 tokens, within 0.02 of F: uncalibrated
 * (the module ranks, each query sees F of its earlier tokens), and calibrated on training stories with
 * {@code perplexity --calibrate} (the module votes with the offset its calibration gives for F), for every F the
 * calibration reached.
 */
@AddLifecycleHook(SharedFiles.SkipWithoutShared.class)
class DcpKeepProperties {
    private static final String STORY_END = "\n<|endoftext|>\n";
    private static Path dir;
    private static Path base;
    private static Path module;
    private static Path calibrated;
    private static float[] calibratedRange;
    private static Path heldOut;

    @BeforeContainer
    static void train() throws IOException {
        base = SharedFiles.requireShared("models/stories260K.gguf");
        List<String> stories = Arrays.asList(Files.readString(SharedFiles.requireShared("data/tinystories-dev.txt"),
                StandardCharsets.UTF_8).split(Pattern.quote(STORY_END)));
        dir = Files.createTempDirectory("dcp-keep");
        Path training = dir.resolve("train.txt");
        Files.writeString(training, String.join(STORY_END, stories.subList(0, 60)));
        // Four windows of 512 tokens: the first 10 held-out stories (about 350 tokens each).
        heldOut = dir.resolve("held-out.txt");
        int firstHeldOut = stories.size() - 30;
        Files.writeString(heldOut, String.join(STORY_END, stories.subList(firstHeldOut, firstHeldOut + 10)));
        module = dir.resolve("module.gguf");
        CliRunner.Run run = CliRunner.run("train-pruning", "-m", base.toString(), "--data", training.toString(),
                "--mode", "module", "--adapter-only", "--gamma", "0.2", "--steps", "30", "--seq-len", "128",
                "--batch", "2", "--holdout", "0.02", "--eval-rows", "1", "--checkpoint-every", "0", "-t", "2",
                "-o", module.toString());
        assertEquals(0, run.exitCode(), run.err());
        // Calibrated on 20 training stories (7 windows), never on the held-out ones: on 6 stories (3 windows) the
        // table read 0.113 where the held-out stories then kept 0.091.
        Path sample = dir.resolve("calibration.txt");
        Files.writeString(sample, String.join(STORY_END, stories.subList(0, 20)));
        calibrated = dir.resolve("calibrated.gguf");
        CliRunner.Run calibration = CliRunner.run("perplexity", "-m", base.toString(), "--prune-adapter", module.toString(),
                "-f", sample.toString(), "--ctx", "512", "-t", "2", "--prune", "dcp", "--calibrate", calibrated.toString());
        assertEquals(0, calibration.exitCode(), calibration.err());
        try (GgufFile file = GgufFile.open(calibrated)) {
            float[] kept = file.metadata().find(DcpCalibration.KEPT_KEY).orElseThrow().asArray().floats();
            calibratedRange = new float[] {kept[0], kept[kept.length - 1]};
        }
    }

    @AfterContainer
    static void delete() throws IOException {
        if (dir != null) {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(file);
                }
            }
        }
    }

    @Property(tries = 4)
    void theKeptFractionLandsNearTheTarget(@ForAll @DoubleRange(min = 0.1, max = 0.9) double target) throws IOException {
        assertKeeps(module, target);
    }

    @Property(tries = 4)
    void aCalibratedModuleKeepsTheTargetByVoting(@ForAll @DoubleRange(min = 0, max = 1) double where) throws IOException {
        double low = Math.max(0.05, calibratedRange[0]);
        assertKeeps(calibrated, low + where * (Math.min(0.95, calibratedRange[1]) - low));
    }

    private static void assertKeeps(Path adapter, double target) throws IOException {
        String spec = String.format(Locale.ROOT, "dcp:keep=%.3f", target);
        CliRunner.Run run = CliRunner.run("perplexity", "-m", base.toString(), "--prune-adapter", adapter.toString(),
                "-f", heldOut.toString(), "--ctx", "512", "-t", "1", "--json", "--prune", spec);
        assertEquals(0, run.exitCode(), run.err());
        JsonNode result = new ObjectMapper().readTree(run.out());
        double kept = 1 - result.get("sparsity").asDouble();
        assertTrue(Math.abs(kept - target) <= 0.02, "%s kept %.4f of the pairs with %s".formatted(spec, kept, adapter.getFileName()));
    }
}
