package dev.winnow.engine.serve;

import dev.winnow.engine.sampling.SamplerConfig;

import java.util.List;
import java.util.Map;

/**
 * How one request generates.
 *
 * @param sampling         temperature, top-k, top-p, min-p, repetition penalty and seed
 * @param presencePenalty  subtracted from the logit of every token generated at least once, in [-2, 2]
 * @param frequencyPenalty subtracted once per time a token was generated, in [-2, 2]
 * @param logitBias        added to the logits of these token ids, each in [-100, 100]
 * @param maxTokens        the most tokens to generate, at least 1
 * @param stop             strings that end the text before them (not included)
 * @param ignoreEos        keep generating through end-of-generation tokens (for benchmarks)
 */
public record GenerationParams(SamplerConfig sampling, float presencePenalty, float frequencyPenalty,
                               Map<Integer, Float> logitBias, int maxTokens, List<String> stop, boolean ignoreEos) {

    public GenerationParams {
        if (sampling == null) {
            throw new IllegalArgumentException("sampling settings are required");
        }
        requirePenalty("presence penalty", presencePenalty);
        requirePenalty("frequency penalty", frequencyPenalty);
        for (Map.Entry<Integer, Float> bias : logitBias.entrySet()) {
            if (bias.getKey() == null || bias.getKey() < 0 || bias.getValue() == null
                    || !(Math.abs(bias.getValue()) <= 100)) {
                throw new IllegalArgumentException("logit bias %s -> %s: ids are >= 0, biases in [-100, 100]"
                        .formatted(bias.getKey(), bias.getValue()));
            }
        }
        if (maxTokens < 1) {
            throw new IllegalArgumentException("max tokens must be at least 1, got " + maxTokens);
        }
        logitBias = Map.copyOf(logitBias);
        stop = List.copyOf(stop);
        for (String s : stop) {
            if (s.isEmpty()) {
                throw new IllegalArgumentException("a stop string must not be empty");
            }
        }
    }

    /** Only the sampler's settings and a token limit: no penalties, biases or stop strings. */
    public static GenerationParams of(SamplerConfig sampling, int maxTokens) {
        return new GenerationParams(sampling, 0, 0, Map.of(), maxTokens, List.of(), false);
    }

    private static void requirePenalty(String name, float value) {
        if (!(value >= -2 && value <= 2)) {
            throw new IllegalArgumentException(name + " must be in [-2, 2], got " + value);
        }
    }
}
