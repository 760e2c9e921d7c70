package dev.winnow.engine.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

class SamplerTest {

    private static SamplerConfig penalizedGreedy(float penalty, int lastN) {
        return new SamplerConfig(0f, 0, 1f, 0f, penalty, lastN, 0L);
    }

    @Test
    void greedyTakesTheLowestIdAmongEqualMaxima() {
        assertEquals(1, Sampler.create(SamplerConfig.greedy()).sample(new float[] {0f, 5f, -1f, 5f}));
    }

    @Test
    void penaltyDividesPositiveLogitsOfRecentTokens() {
        Sampler sampler = Sampler.create(penalizedGreedy(1.5f, 64));
        float[] logits = {3.0f, 2.9f, 0f};
        assertEquals(0, sampler.sample(logits));
        sampler.accept(0); // 3.0 / 1.5 = 2.0 < 2.9
        assertEquals(1, sampler.sample(logits));
    }

    @Test
    void penaltyMultipliesNegativeLogitsOfRecentTokens() {
        Sampler sampler = Sampler.create(penalizedGreedy(2f, 64));
        sampler.accept(0); // -1 * 2 = -2 < -1.5
        assertEquals(1, sampler.sample(new float[] {-1f, -1.5f}));
    }

    @Test
    void penaltyCountsATokenOnceHoweverOftenItRepeats() {
        Sampler sampler = Sampler.create(penalizedGreedy(1.5f, 64));
        sampler.accept(0);
        sampler.accept(0); // once: 3.0 / 1.5 = 2.0 > 1.9; twice would give 1.33
        assertEquals(0, sampler.sample(new float[] {3.0f, 1.9f}));
    }

    @Test
    void penaltyForgetsTokensThatLeftTheWindow() {
        Sampler sampler = Sampler.create(penalizedGreedy(1.5f, 2));
        float[] logits = {3.0f, 2.9f, 0f};
        sampler.accept(0);
        sampler.accept(1);
        assertEquals(0, sampler.sample(logits)); // both penalized: 2.0 vs 1.93
        sampler.accept(2); // token 0 leaves the window of 2
        assertEquals(0, sampler.sample(logits));
        sampler.accept(2);
        sampler.accept(0);
        assertEquals(1, sampler.sample(logits));
    }

    @Test
    void penaltyOfOneOrEmptyWindowChangesNothing() {
        for (SamplerConfig config : new SamplerConfig[] {penalizedGreedy(1f, 64), penalizedGreedy(3f, 0)}) {
            Sampler sampler = Sampler.create(config);
            sampler.accept(0);
            assertEquals(0, sampler.sample(new float[] {3.0f, 2.9f}));
        }
    }

    @Test
    void neverChangesTheCallersLogits() {
        Sampler sampler = Sampler.create(new SamplerConfig(0.7f, 3, 0.9f, 0.1f, 1.3f, 8, 42L));
        float[] logits = {1f, -2f, 3f, 0.5f, 2f};
        float[] before = logits.clone();
        for (int token = 0; token < 5; token++) {
            sampler.accept(token);
            sampler.sample(logits);
        }
        assertArrayEquals(before, logits);
    }

    @Test
    void rejectsLogitsItCannotSampleFrom() {
        Sampler sampler = Sampler.create(SamplerConfig.defaults());
        assertEquals("there are no logits to sample from",
                assertThrows(IllegalArgumentException.class, () -> sampler.sample(new float[0])).getMessage());
        assertEquals("logit 1 is NaN",
                assertThrows(IllegalArgumentException.class, () -> sampler.sample(new float[] {0f, Float.NaN}))
                        .getMessage());
        assertEquals("logit 0 is Infinity", assertThrows(IllegalArgumentException.class,
                () -> sampler.sample(new float[] {Float.POSITIVE_INFINITY, 0f})).getMessage());
        float[] allMasked = {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY};
        assertEquals("all 2 logits are -infinity",
                assertThrows(IllegalArgumentException.class, () -> sampler.sample(allMasked)).getMessage());
        assertEquals(1, sampler.sample(new float[] {Float.NEGATIVE_INFINITY, 0f}));
    }

    @Test
    void validatesTheConfiguration() {
        assertInvalid("temperature must be a finite number >= 0, got -0.1", -0.1f, 40, 0.9f, 0f, 1f, 64);
        assertInvalid("temperature must be a finite number >= 0, got NaN", Float.NaN, 40, 0.9f, 0f, 1f, 64);
        assertInvalid("top-k must be >= 0 (0 keeps every token), got -1", 1f, -1, 0.9f, 0f, 1f, 64);
        assertInvalid("top-p must be in (0, 1] (1 keeps every token), got 0.0", 1f, 40, 0f, 0f, 1f, 64);
        assertInvalid("top-p must be in (0, 1] (1 keeps every token), got 1.5", 1f, 40, 1.5f, 0f, 1f, 64);
        assertInvalid("min-p must be in [0, 1] (0 keeps every token), got -0.5", 1f, 40, 1f, -0.5f, 1f, 64);
        assertInvalid("the repetition penalty must be a finite number > 0 (1 is off), got 0.0", 1f, 40, 1f, 0f, 0f,
                64);
        assertInvalid("repeat-last-n must be >= 0 (0 is off), got -3", 1f, 40, 1f, 0f, 1f, -3);
        assertEquals("token id -1 is negative", assertThrows(IllegalArgumentException.class,
                () -> Sampler.create(penalizedGreedy(1.1f, 4)).accept(-1)).getMessage());
    }

    private static void assertInvalid(String message, float temperature, int topK, float topP, float minP,
                                      float penalty, int lastN) {
        assertEquals(message, assertThrows(IllegalArgumentException.class,
                () -> new SamplerConfig(temperature, topK, topP, minP, penalty, lastN, 1L)).getMessage());
    }

    @Test
    void defaultsAreTheDocumentedOnes() {
        SamplerConfig defaults = SamplerConfig.defaults();
        assertEquals(new SamplerConfig(0.8f, 40, 0.95f, 0.05f, 1.0f, 64, defaults.seed()), defaults);
    }

    /**
     * Buffers are made once: a call must not allocate anything near the size of the vocabulary. Measured in a JVM of
     * its own ({@link SamplerAllocationCheck}): the sampler's vector code allocates while it is interpreted, and in
     * this JVM, busy with every other test, when the compiler gets to it is anybody's guess.
     */
    @Test
    void samplingAllocatesNoVocabularySizedArrays() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // Compilation in the foreground: a method that reaches the compile threshold waits for its compiled code,
        // so on a loaded machine the rounds cannot all pass while the compiler's queue still holds the sampler (a
        // full build once saw 384 KB per call after 5,000 calls).
        Process child = new ProcessBuilder(List.of(java, "--add-modules", "jdk.incubator.vector", "-XX:-BackgroundCompilation",
                "-cp", System.getProperty("java.class.path"), SamplerAllocationCheck.class.getName()))
                .redirectErrorStream(true)
                .start();
        String output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(child.waitFor(120, TimeUnit.SECONDS), "the check did not finish in 2 minutes");
        assertEquals(0, child.exitValue(), () -> "allocation check failed:\n" + output);
        assertTrue(output.contains("ok"), output);
    }
}
