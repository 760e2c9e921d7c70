package dev.winnow.engine.pruning;

import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.engine.model.PruningModule;
import dev.winnow.tensors.VectorMath;
import dev.winnow.tensors.WorkerPool;

/**
 * Dynamic Context Pruning at inference (dcp.md sections 2 and 5), with the step function: at query position m,
 * an earlier token k of a layer stays only while dot(qi[m], ki[k]) / sqrt(r) + beta > 0; the first "no" hides it
 * from m on, for good (the running product of the votes). The current token always sees itself. Inside a block
 * of prompt tokens each query votes in order, so the block sees exactly the running-product mask; after the
 * block, the hidden tokens' slots are freed.
 */
final class DcpPruner extends CachePruner {
    private final PruningModule module;
    private final float inverseSqrtR;
    private float[] queries = new float[0];
    private float[] keys = new float[0];
    /** The interaction key of the token being voted on. */
    private final float[] tokenKey;

    DcpPruner(PruningModule module, PagedKvCache cache, PruningTrace trace) {
        super(cache, trace);
        this.module = module;
        this.inverseSqrtR = (float) (1 / Math.sqrt(module.interactionDim()));
        this.tokenKey = new float[module.interactionDim()];
    }

    @Override
    public void beforeAttention(int layer, float[] normalized, int firstPosition, int count, WorkerPool pool) {
        int r = module.interactionDim();
        if (queries.length < count * r) {
            queries = new float[count * r];
            keys = new float[count * r];
        }
        PruningModule.Layer m = module.layers()[layer];
        m.queryProjection().matMul(normalized, queries, count, pool);
        m.keyProjection().matMul(normalized, keys, count, pool);
        cache.storeInteractionKeys(layer, firstPosition, count, keys);
        float bias = m.bias();
        PagedKvCache.LiveTokens tokens = cache.liveTokens(layer);
        while (tokens.next()) {
            int position = tokens.position();
            int slot = tokens.slot();
            boolean keyRead = false;
            // Queries of this block later than the token vote on it, in order, until one says no.
            for (int i = Math.max(0, position + 1 - firstPosition); i < count; i++) {
                int step = firstPosition + i;
                if (cache.visibleUntil(slot) <= step) {
                    break;
                }
                if (!keyRead) {
                    cache.readInteractionKey(slot, tokenKey);
                    keyRead = true;
                }
                float score = VectorMath.dot(tokenKey, 0, queries, i * r, r) * inverseSqrtR + bias;
                if (trace != null) {
                    trace.score(layer, position, score);
                }
                if (score <= 0) {
                    cache.hideFrom(slot, step);
                    break;
                }
            }
        }
    }
}
