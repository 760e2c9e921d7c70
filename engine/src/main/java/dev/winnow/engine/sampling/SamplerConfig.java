package dev.winnow.engine.sampling;

import java.util.concurrent.ThreadLocalRandom;

/**
 * How to pick the next token from the logits.
 *
 * @param temperature   0 picks the most likely token (greedy); higher values flatten the distribution
 * @param topK          keep only the {@code topK} most likely tokens; 0 keeps all
 * @param topP          keep the smallest set of most likely tokens whose probabilities add up to at least
 *                      {@code topP}, in (0, 1]; 1 keeps all
 * @param minP          drop tokens less likely than {@code minP} times the most likely one, in [0, 1]; 0 keeps all
 * @param repeatPenalty divide positive (multiply negative) logits of recently accepted tokens by this; 1 is off
 * @param repeatLastN   how many of the last accepted tokens the penalty looks at; 0 is off
 * @param seed          the random seed: the same seed, config and logits give the same tokens
 */
public record SamplerConfig(float temperature, int topK, float topP, float minP, float repeatPenalty,
                            int repeatLastN, long seed) {

    public SamplerConfig {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top-k must be >= 0 (0 keeps every token), got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top-p must be in (0, 1] (1 keeps every token), got " + topP);
        }
        if (!(minP >= 0 && minP <= 1)) {
            throw new IllegalArgumentException("min-p must be in [0, 1] (0 keeps every token), got " + minP);
        }
        if (!(repeatPenalty > 0) || Float.isInfinite(repeatPenalty)) {
            throw new IllegalArgumentException(
                    "the repetition penalty must be a finite number > 0 (1 is off), got " + repeatPenalty);
        }
        if (repeatLastN < 0) {
            throw new IllegalArgumentException("repeat-last-n must be >= 0 (0 is off), got " + repeatLastN);
        }
    }

    /** Temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, no repetition penalty (window 64), a random seed. */
    public static SamplerConfig defaults() {
        return new SamplerConfig(0.8f, 40, 0.95f, 0.05f, 1.0f, 64, ThreadLocalRandom.current().nextLong());
    }

    /** Always the most likely token. */
    public static SamplerConfig greedy() {
        return new SamplerConfig(0f, 0, 1f, 0f, 1.0f, 64, 0L);
    }
}
