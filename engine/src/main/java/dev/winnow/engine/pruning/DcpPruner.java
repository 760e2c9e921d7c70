package dev.winnow.engine.pruning;

import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.tensors.FloatTensor;
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

    DcpPruner(PruningModule module, PagedKvCache cache, PruningTrace trace) {
        super(cache, trace);
        this.module = module;
        this.inverseSqrtR = (float) (1 / Math.sqrt(module.interactionDim()));
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
        for (int p = 0, pages = cache.pageCount(layer); p < pages; p++) {
            int page = cache.page(layer, p);
            FloatTensor interactionKeys = cache.interactionKeys(page);
            for (long bits = cache.liveSlots(page); bits != 0; bits &= bits - 1) {
                int slot = Long.numberOfTrailingZeros(bits);
                int position = cache.position(page, slot);
                // Queries of this block later than the token vote on it, in order, until one says no.
                for (int i = Math.max(0, position + 1 - firstPosition); i < count; i++) {
                    int step = firstPosition + i;
                    if (cache.visibleUntil(page, slot) <= step) {
                        break;
                    }
                    float score = interactionKeys.dotRow(slot, queries, i * r) * inverseSqrtR + bias;
                    if (trace != null) {
                        trace.score(layer, position, score);
                    }
                    if (score <= 0) {
                        cache.hideFrom(page, slot, step);
                        break;
                    }
                }
            }
        }
    }
}
