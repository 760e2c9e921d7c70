package dev.winnow.tests.gguf;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.winnow.tests.SharedFiles;
import dev.winnow.tests.model.TinyLlama;
import org.junit.jupiter.api.AfterAll;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Coverage-guided fuzzing (Jazzer) of the GGUF reader, model loading and the first forward step: each input picks
 * a seed model and up to four {@link Mutation}s of it, or is a whole file of its own, and {@link GuardedOpen#loadAndStep}
 * insists that the file is either refused with a model error or runs (never another exception, an Error, or a
 * hang). Seeds: a small random model written by the tests and, when ../shared is present, stories260K in F32 and
 * Q4_0. {@code ./mvnw verify} fuzzes for {@code fuzz.duration} (20 s); README gives the long run's command.
 */
class ModelFuzzTest {
    private static final Path DIR = TempFiles.directory("model-fuzz");
    private static final Path FILE = DIR.resolve("fuzzed.gguf");
    private static final List<GgufCorruptionProperties.Sample> SEEDS = seeds();
    private static final Map<GuardedOpen.Outcome, Integer> OUTCOMES = new EnumMap<>(GuardedOpen.Outcome.class);

    private static List<GgufCorruptionProperties.Sample> seeds() {
        try {
            List<GgufCorruptionProperties.Sample> seeds = new ArrayList<>();
            Path tiny = DIR.resolve("tiny.gguf");
            TinyLlama.random(11, 32, 2, 4, 2, 64, 50, 64, 8, false).write(tiny);
            seeds.add(GgufCorruptionProperties.Sample.read("tiny", tiny));
            for (String name : List.of("models/stories260K.gguf", "models/stories260K-q4_0.gguf")) {
                Optional<Path> shared = SharedFiles.find(name);
                if (shared.isPresent()) {
                    seeds.add(GgufCorruptionProperties.Sample.read(name, shared.get()));
                }
            }
            return List.copyOf(seeds);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The figures of a run (docs/fuzzing.md quotes them): how many inputs ran a step, how many were refused. */
    @AfterAll
    static void reportAndCleanUp() throws IOException {
        System.out.printf("ModelFuzzTest: %d inputs, %d loaded and ran a step, %d refused%n",
                OUTCOMES.values().stream().mapToInt(Integer::intValue).sum(),
                OUTCOMES.getOrDefault(GuardedOpen.Outcome.OPENED, 0), OUTCOMES.getOrDefault(GuardedOpen.Outcome.REFUSED, 0));
        TempFiles.delete(DIR);
    }

    @FuzzTest
    void loadAndRunOneStep(FuzzedDataProvider input) throws IOException {
        OUTCOMES.merge(GuardedOpen.loadAndStep(FILE, file(input)), 1, Integer::sum);
    }

    /** A seed with mutations, or (one input in eight) the rest of the input as a file. */
    private static byte[] file(FuzzedDataProvider input) {
        if (input.consumeInt(0, 7) == 0) {
            return input.consumeRemainingAsBytes();
        }
        GgufCorruptionProperties.Sample seed = input.pickValue(SEEDS);
        byte[] bytes = seed.bytes();
        for (int i = input.consumeInt(1, 4); i > 0; i--) {
            bytes = Mutation.fuzzed(input).apply(bytes, seed.headerLength());
        }
        return bytes;
    }
}
