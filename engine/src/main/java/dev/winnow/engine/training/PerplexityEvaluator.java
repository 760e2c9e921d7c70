package dev.winnow.engine.training;

import dev.winnow.engine.generate.Session;
import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.kv.PagePool;
import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.tensors.VectorMath;
import dev.winnow.tensors.WorkerPool;

import java.util.function.IntConsumer;

/**
 * Teacher-forced perplexity with pruning applied exactly as at inference: the token stream is cut into
 * consecutive windows of the context length, and each window is fed to a fresh paged session one token at a
 * time, so every hard decision and every freed slot is the engine's own. Alongside: the kept fraction of the
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
     * @param tokens         predicted tokens
     * @param kl             mean KL(base || model) per predicted token, or NaN without a base
     * @param top1Agreement  fraction of positions where model and base pick the same most likely token, or NaN
     */
    public record Result(double perplexity, double keptFraction, double sparsity, int tokens, int windows, double kl,
                         double top1Agreement) {
    }

    private PerplexityEvaluator() {
    }

    /**
     * Measures {@code model} pruned by {@code policy} on {@code stream}.
     *
     * @param base     a dense model to compare the next-token distributions with, or null
     * @param progress told the number of windows done after each one
     */
    public static Result measure(Model model, PruningPolicy policy, int[] stream, int contextLength, WorkerPool pool,
                                 Model base, IntConsumer progress) {
        if (contextLength < 2) {
            throw new IllegalArgumentException("the context must hold at least 2 tokens, got " + contextLength);
        }
        if (stream.length < 2) {
            throw new IllegalArgumentException("the text has %d token%s: nothing to predict".formatted(stream.length,
                    stream.length == 1 ? "" : "s"));
        }
        if (base != null && base.config().vocabularySize() != model.config().vocabularySize()) {
            throw new IllegalArgumentException("the base model's vocabulary (%d) differs from the model's (%d)"
                    .formatted(base.config().vocabularySize(), model.config().vocabularySize()));
        }
        int vocab = model.config().vocabularySize();
        int layers = model.config().layers();
        double nll = 0;
        double kl = 0;
        int agreements = 0;
        int tokens = 0;
        double kept = 0;
        double prunedPairs = 0;
        double pairs = 0;
        int windows = 0;
        try (PagePool pages = KvCacheConfig.defaults().newPool(model.config().kvGeometry(contextLength),
                policy.interactionDim(model));
             PagePool basePages = base == null ? null : KvCacheConfig.defaults().newPool(
                     base.config().kvGeometry(contextLength), 0)) {
            Session session = Session.paged(model, pages, contextLength, pool, policy, null);
            Session baseSession = base == null ? null
                    : Session.paged(base, basePages, contextLength, pool, new PruningPolicy.None(), null);
            for (int start = 0; stream.length - start >= 2; start += contextLength) {
                int length = Math.min(contextLength, stream.length - start);
                session.reset();
                if (baseSession != null) {
                    baseSession.reset();
                }
                for (int i = 0; i + 1 < length; i++) {
                    float[] logits = session.next(stream[start + i]);
                    double logSum = TrainingOps.logSumExp(logits, 0, vocab);
                    nll += logSum - logits[stream[start + i + 1]];
                    if (baseSession != null) {
                        float[] baseLogits = baseSession.next(stream[start + i]);
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
                PagedKvCache cache = (PagedKvCache) session.cache();
                double windowPairs = (length - 1.0) * (length - 2.0) / 2;
                double windowKept = 0;
                double windowSparsity = 0;
                for (int l = 0; l < layers; l++) {
                    PagedKvCache.LayerStats stats = cache.stats(l);
                    windowKept += stats.keptFraction();
                    windowSparsity += stats.sparsity();
                }
                kept += windowKept / layers;
                prunedPairs += windowSparsity / layers * windowPairs;
                pairs += windowPairs;
                windows++;
                progress.accept(windows);
            }
        }
        return new Result(Math.exp(nll / tokens), kept / windows, pairs == 0 ? 0 : prunedPairs / pairs, tokens, windows,
                base == null ? Double.NaN : kl / tokens, base == null ? Double.NaN : (double) agreements / tokens);
    }

    /** The number of windows {@link #measure} cuts a stream into. */
    public static int windowCount(int streamLength, int contextLength) {
        int count = 0;
        for (int start = 0; streamLength - start >= 2; start += contextLength) {
            count++;
        }
        return count;
    }
}
