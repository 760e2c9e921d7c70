package dev.winnow.engine.kv;

import dev.winnow.tensors.WorkerPool;

/**
 * Where a sequence keeps the keys and values of the tokens it has seen, layer by layer, and the attention
 * that reads them. The forward pass talks only to this interface, so the storage (dense arrays, a paged pool)
 * can change without touching it. Tokens arrive in blocks (a prompt chunk, or one decoded token).
 */
public interface KvCache {

    KvGeometry geometry();

    /**
     * Stores the keys (already rotated by RoPE at their positions) and values of {@code count} consecutive
     * tokens starting at {@code firstPosition} in one layer. {@code k} and {@code v} hold
     * {@code count x kvDim} floats, token after token, KV head after KV head within a token.
     *
     * @throws KvCacheFullException when the cache cannot hold them
     */
    void store(int layer, int firstPosition, int count, float[] k, float[] v);

    /**
     * Causal attention for a block of {@code count} queries at positions {@code firstPosition ..}: query i sees
     * every token of this layer at a position up to {@code firstPosition + i}. For query head h (reading KV head
     * h / groupSize), out[i][h] = sum over visible tokens t of softmax_t(q[i][h] . k[t] / sqrt(headDim)) v[t].
     * {@code q} and {@code out} hold {@code count x heads x headDim} floats.
     *
     * @param weights where to add the attention weights each token received, or null when nobody needs them
     */
    void attend(int layer, float[] q, float[] out, int firstPosition, int count, WorkerPool pool, AttentionWeights weights);

    /** Tokens held by a layer. */
    int tokens(int layer);

    /** Forgets every token. */
    void clear();

    /** Bytes of memory the cache holds for its contents. */
    long bytesHeld();
}
