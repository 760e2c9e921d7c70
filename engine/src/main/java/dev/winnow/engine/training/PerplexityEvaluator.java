package dev.winnow.engine.training;

import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.Sequence;
import dev.winnow.engine.runtime.SequenceOptions;
import dev.winnow.tensors.VectorMath;

/**
 * Teacher-forced perplexity with pruning applied exactly as at inference: the token stream is cut into
 * consecutive windows of the engine's context length, and each window is read by a fresh sequence one token
 * at a time, so every hard decision and every freed slot is the engine's own. Alongside: the kept fraction of the
 * cache at the end of each window and the sparsity (pruned (query, earlier token) pairs), averaged over layers,
 * and, against a dense base model, the KL divergence of the next-token distributions and how often both pick
 * the same most likely token.
 */
public final class PerplexityEvaluator {

    /**
     * @param perplexity     exp of the mean negative log-likelihood of the predicted tokens
     * @param keptFraction   tokens each layer still holds at the end of a window over the window's length, mean
     *                       over layers and windows
     * @param sparsity       pruned (query, earlier token) pairs over all such pairs, mean over layers (all windows pooled)
     * @param layerPairsKept each layer's visible (query, earlier token) pairs over all such pairs (all windows pooled)
     * @param tokens         predicted tokens
     * @param kl             mean KL(base || model) per predicted token, or NaN without a base
     * @param top1Agreement  fraction of positions where model and base pick the same most likely token, or NaN
     */
    public record Result(double perplexity, double keptFraction, double sparsity, double[] layerPairsKept, int tokens,
                         int windows, double kl, double top1Agreement) {
    }

    /** Told after each window: windows and predicted tokens so far, and the perplexity over those tokens. */
    @FunctionalInterface
    public interface Listener {
        void windowDone(int windows, int tokens, double runningPerplexity);
    }

    private PerplexityEvaluator() {
    }

    /**
     * Measures the model of {@code engine}, pruned by its policy, on {@code stream}, in windows of its context length.
     *
     * @param base     the engine of a dense model to compare the next-token distributions with, or null
     * @param progress told how far the measurement is after each window
     */
    public static Result measure(Engine engine, Engine base, int[] stream, Listener progress) {
        Model model = engine.model();
        int contextLength = engine.config().contextLength();
        if (contextLength < 2) {
            throw new IllegalArgumentException("the context must hold at least 2 tokens, got " + contextLength);
        }
        if (stream.length < 2) {
            throw new IllegalArgumentException("the text has %d token%s: nothing to predict".formatted(stream.length,
                    stream.length == 1 ? "" : "s"));
        }
        if (base != null && base.model().config().vocabularySize() != model.config().vocabularySize()) {
            throw new IllegalArgumentException("the base model's vocabulary (%d) differs from the model's (%d)"
                    .formatted(base.model().config().vocabularySize(), model.config().vocabularySize()));
        }
        int vocab = model.config().vocabularySize();
        int layers = model.config().layers();
        double nll = 0;
        double kl = 0;
        int agreements = 0;
        int tokens = 0;
        double kept = 0;
        double[] layerPrunedPairs = new double[layers];
        double pairs = 0;
        int windows = 0;
        Sequence sequence = engine.newSequence(SequenceOptions.forced(null));
        Sequence baseSequence = base == null ? null : base.newSequence(SequenceOptions.forced(null));
        try {
            for (int start = 0; stream.length - start >= 2; start += contextLength) {
                int length = Math.min(contextLength, stream.length - start);
                sequence.reset();
                if (baseSequence != null) {
                    baseSequence.reset();
                }
                for (int i = 0; i + 1 < length; i++) {
                    float[] logits = sequence.feed(stream[start + i]);
                    double logSum = TrainingOps.logSumExp(logits, 0, vocab);
                    nll += logSum - logits[stream[start + i + 1]];
                    if (baseSequence != null) {
                        float[] baseLogits = baseSequence.feed(stream[start + i]);
                        double baseLogSum = TrainingOps.logSumExp(baseLogits, 0, vocab);
                        for (int v = 0; v < vocab; v++) {
                            double logP = baseLogits[v] - baseLogSum;
                            kl += Math.exp(logP) * (logP - (logits[v] - logSum));
                        }
                        if (VectorMath.argmax(baseLogits, 0, vocab) == VectorMath.argmax(logits, 0, vocab)) {
                            agreements++;
                        }
                    }
                    tokens++;
                }
                PagedKvCache cache = sequence.cache();
                double windowPairs = (length - 1.0) * (length - 2.0) / 2;
                double windowKept = 0;
                for (int l = 0; l < layers; l++) {
                    PagedKvCache.LayerStats stats = cache.stats(l);
                    windowKept += stats.keptFraction();
                    layerPrunedPairs[l] += stats.sparsity() * windowPairs;
                }
                kept += windowKept / layers;
                pairs += windowPairs;
                windows++;
                progress.windowDone(windows, tokens, Math.exp(nll / tokens));
            }
        } finally {
            sequence.reset();
            if (baseSequence != null) {
                baseSequence.reset();
            }
        }
        double[] layerPairsKept = new double[layers];
        double sparsity = 0;
        for (int l = 0; l < layers; l++) {
            double layerSparsity = pairs == 0 ? 0 : layerPrunedPairs[l] / pairs;
            layerPairsKept[l] = 1 - layerSparsity;
            sparsity += layerSparsity / layers;
        }
        return new Result(Math.exp(nll / tokens), kept / windows, sparsity, layerPairsKept, tokens, windows,
                base == null ? Double.NaN : kl / tokens, base == null ? Double.NaN : (double) agreements / tokens);
    }

    /** The number of windows {@link #measure} cuts a stream into. */
    public static int windowCount(int streamLength, int contextLength) {
        return streamLength < 2 ? 0 : (streamLength - 2) / contextLength + 1; // windows start where 2 tokens are left
    }
}
