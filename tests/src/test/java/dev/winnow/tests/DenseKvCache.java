package dev.winnow.tests;

import dev.winnow.engine.kv.AttentionWeights;
import dev.winnow.engine.kv.KvCache;
import dev.winnow.engine.kv.KvCacheFullException;
import dev.winnow.engine.kv.KvGeometry;
import dev.winnow.tensors.VectorMath;
import dev.winnow.tensors.WorkerPool;

import java.util.Arrays;

/**
 * The plain cache: for each layer, one F32 array of K rows and one of V rows indexed by position, filled in
 * order and doubled when full (so a long --ctx costs nothing until it is used). Simple and exact; the
 * reference that other caches are tested against.
 */
public final class DenseKvCache implements KvCache {
    private static final int INITIAL_TOKENS = 256;

    private final KvGeometry geometry;
    private final float[][] keys;
    private final float[][] values;
    private final int[] length;
    /** One row of attention scores per query head, reused by every query. */
    private float[][] scores;

    public DenseKvCache(KvGeometry geometry) {
        if ((long) geometry.capacity() * geometry.kvDim() > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("a dense cache of %d tokens x %d floats does not fit in one array; lower --ctx"
                    .formatted(geometry.capacity(), geometry.kvDim()));
        }
        this.geometry = geometry;
        int initial = Math.min(INITIAL_TOKENS, geometry.capacity());
        this.keys = new float[geometry.layers()][initial * geometry.kvDim()];
        this.values = new float[geometry.layers()][initial * geometry.kvDim()];
        this.length = new int[geometry.layers()];
        this.scores = new float[geometry.heads()][initial];
    }

    @Override
    public KvGeometry geometry() {
        return geometry;
    }

    @Override
    public void store(int layer, int firstPosition, int count, float[] k, float[] v) {
        if (firstPosition != length[layer]) {
            throw new IllegalStateException("dense cache layer %d holds %d tokens; cannot store position %d"
                    .formatted(layer, length[layer], firstPosition));
        }
        int end = firstPosition + count;
        if (end > geometry.capacity()) {
            throw new KvCacheFullException("the cache holds at most %d tokens and %d were asked for; raise --ctx"
                    .formatted(geometry.capacity(), end));
        }
        int kvDim = geometry.kvDim();
        if (end * kvDim > keys[layer].length) {
            int tokens = keys[layer].length / kvDim;
            while (tokens < end) {
                tokens = (int) Math.min(geometry.capacity(), 2L * tokens);
            }
            keys[layer] = Arrays.copyOf(keys[layer], tokens * kvDim);
            values[layer] = Arrays.copyOf(values[layer], tokens * kvDim);
        }
        System.arraycopy(k, 0, keys[layer], firstPosition * kvDim, count * kvDim);
        System.arraycopy(v, 0, values[layer], firstPosition * kvDim, count * kvDim);
        length[layer] = end;
    }

    @Override
    public void attend(int layer, float[] q, float[] out, int firstPosition, int count, WorkerPool pool,
                       AttentionWeights weights) {
        if (weights != null) {
            throw new UnsupportedOperationException("the dense reference cache does not report attention weights");
        }
        int visibleAtMost = firstPosition + count;
        if (visibleAtMost > length[layer]) {
            throw new IllegalStateException("layer %d holds %d tokens; query at position %d has not been stored"
                    .formatted(layer, length[layer], visibleAtMost - 1));
        }
        if (scores[0].length < visibleAtMost) {
            scores = new float[geometry.heads()][keys[layer].length / geometry.kvDim()];
        }
        float[][] scoreRows = scores;
        int headDim = geometry.headDim();
        int kvDim = geometry.kvDim();
        int queryDim = geometry.heads() * headDim;
        int group = geometry.groupSize();
        float scale = (float) (1.0 / Math.sqrt(headDim));
        float[] k = keys[layer];
        float[] v = values[layer];
        pool.parallelFor(geometry.heads(), (firstHead, endHead) -> {
            for (int h = firstHead; h < endHead; h++) {
                float[] s = scoreRows[h];
                int kvOffset = (h / group) * headDim;
                for (int i = 0; i < count; i++) {
                    int qOffset = i * queryDim + h * headDim;
                    int visible = firstPosition + i + 1;
                    for (int t = 0; t < visible; t++) {
                        s[t] = VectorMath.dot(q, qOffset, k, t * kvDim + kvOffset, headDim) * scale;
                    }
                    VectorMath.softmax(s, 0, visible);
                    Arrays.fill(out, qOffset, qOffset + headDim, 0f);
                    for (int t = 0; t < visible; t++) {
                        VectorMath.axpy(s[t], v, t * kvDim + kvOffset, out, qOffset, headDim);
                    }
                }
            }
        });
    }

    @Override
    public int tokens(int layer) {
        return length[layer];
    }

    @Override
    public void clear() {
        Arrays.fill(length, 0);
    }

    @Override
    public long bytesHeld() {
        long tokens = 0;
        for (int n : length) {
            tokens += n;
        }
        return tokens * geometry.kvDim() * 2L * Float.BYTES;
    }
}
