package dev.winnow.engine.pruning;

import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.engine.model.PruningModule;
import dev.winnow.tensors.VectorMath;
import dev.winnow.tensors.WorkerPool;

import java.util.Arrays;

/**
 * Dynamic Context Pruning at inference (dcp.md sections 2 and 5), with the step function: at query position m,
 * an earlier token k of a layer stays only while dot(qi[m], ki[k]) / sqrt(r) + beta + offset > 0; the first "no"
 * hides it from m on, for good (the running product of the votes). The current token always sees itself. Inside
 * a block of prompt tokens each query votes in order, so the block sees exactly the running-product mask; after
 * the block, the hidden tokens' slots are freed.
 * <p>
 * A {@link DcpTarget} other than the module's own steers each layer. {@code keep=F}: the module's scores only rank
 * the tokens, and each query sees the round(F * position) highest-scoring earlier tokens still live (as if the
 * layer's offset were set, query by query, to pass exactly that many); a calibrated module instead votes with the
 * offset its calibration gives for F ({@code offset=X}: every layer's offset starts at X and stays there).
 * {@code budget=N}: the module votes; when the votes leave a query more than N - 1 earlier tokens, the
 * lowest-scoring go and the layer's offset falls by {@link #OFFSET_STEP}; when the votes dropped tokens the budget
 * had room for, the offset rises by as much. The offsets start afresh with every sequence, so the decisions depend
 * only on the sequence's tokens. With a recent window of W, a query votes only on tokens more than W positions behind
 * it: the last W are always seen, and a token leaves only once the module votes it out after that.
 */
final class DcpPruner extends CachePruner {
    /** How far one step moves a layer's offset: small against the scores' spread, large enough to cross it in a story. */
    static final float OFFSET_STEP = 0.05f;

    private final PruningModule module;
    private final DcpTarget target;
    /** How many of the latest earlier tokens every query sees without a vote. */
    private final int recent;
    private final boolean steered;
    /** Whether the module's votes drop tokens (all but keep=F, where its scores only rank them). */
    private final boolean votes;
    private final float inverseSqrtR;
    private final float[] offsets;
    /** Where every layer's offset starts with each sequence. */
    private final float initialOffset;
    /** The current query's score of each earlier token it still sees, by position. */
    private final float[] scoreByPosition;
    private float[] queries = new float[0];
    private float[] keys = new float[0];
    /** The interaction key of the token being voted on. */
    private final float[] tokenKey;

    DcpPruner(PruningModule module, DcpTarget requested, int recent, PagedKvCache cache, PruningTrace trace) {
        super(cache, trace);
        this.module = module;
        this.target = requested.resolve(module);
        this.recent = recent;
        this.steered = !(target instanceof DcpTarget.Own || target instanceof DcpTarget.Offset);
        this.initialOffset = target instanceof DcpTarget.Offset(double shift) ? (float) shift : 0f;
        this.votes = !(target instanceof DcpTarget.Keep);
        this.inverseSqrtR = (float) (1 / Math.sqrt(module.interactionDim()));
        this.offsets = new float[module.layers().length];
        Arrays.fill(offsets, initialOffset);
        this.scoreByPosition = new float[steered ? cache.geometry().capacity() : 0];
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
        // Each query of the block, in order, scores (and votes on) the earlier tokens it still sees.
        for (int i = 0; i < count; i++) {
            int step = firstPosition + i;
            int votedBelow = step - recent;
            float bias = m.bias() + offsets[layer];
            int seen = 0;
            int dropped = 0;
            PagedKvCache.LiveTokens tokens = cache.liveTokens(layer);
            while (tokens.next()) {
                int position = tokens.position();
                int slot = tokens.slot();
                if (position >= votedBelow || cache.visibleUntil(slot) <= step) {
                    continue;
                }
                cache.readInteractionKey(slot, tokenKey);
                float score = VectorMath.dot(tokenKey, 0, queries, i * r, r) * inverseSqrtR + bias;
                if (trace != null) {
                    trace.score(layer, position, score);
                }
                if (votes && score <= 0) {
                    cache.hideFrom(slot, step);
                    dropped++;
                } else if (steered) {
                    scoreByPosition[position] = score;
                    seen++;
                }
            }
            if (steered) {
                steer(layer, step, seen, dropped);
            }
        }
    }

    /** Holds the query at {@code step} to the target's limit and, where the module votes, moves the layer's offset toward it. */
    private void steer(int layer, int step, int seen, int dropped) {
        int limit = target.earlierLimit(step);
        if (seen > limit) {
            hideLowest(layer, scoreByPosition, step - 1, seen - limit, step);
            if (votes) {
                offsets[layer] -= OFFSET_STEP;
            }
        } else if (seen < limit && dropped > 0) {
            offsets[layer] += OFFSET_STEP;
        }
    }

    @Override
    public void reset() {
        Arrays.fill(offsets, initialOffset);
    }
}
