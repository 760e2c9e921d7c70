package dev.winnow.engine.runtime;

import dev.winnow.engine.pruning.PruningTrace;
import dev.winnow.engine.sampling.Sampler;
import dev.winnow.engine.sampling.SamplerConfig;

import java.util.function.IntPredicate;

/**
 * How one sequence picks its tokens.
 *
 * @param sampler    picks each token from the logits; one per sequence, it keeps the repetition window
 * @param stop       tokens that end generation without being emitted
 * @param adjustment applied to the logits before sampling, or null
 * @param trace      where the pruner records its drops, or null
 */
public record SequenceOptions(Sampler sampler, IntPredicate stop, LogitAdjustment adjustment, PruningTrace trace) {
    public static SequenceOptions of(Sampler sampler, IntPredicate stop) {
        return new SequenceOptions(sampler, stop, null, null);
    }

    /**
     * For a sequence whose tokens are given rather than sampled (teacher forcing, benchmarks, tests): greedy if it
     * is asked to sample, no stop token, its pruning recorded in {@code trace} (or not, when null).
     */
    public static SequenceOptions forced(PruningTrace trace) {
        return new SequenceOptions(Sampler.create(SamplerConfig.greedy()), token -> false, null, trace);
    }
}
