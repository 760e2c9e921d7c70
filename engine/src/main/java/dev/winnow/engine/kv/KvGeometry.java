package dev.winnow.engine.kv;

/**
 * The shape of what a KV cache stores for one token in one layer, and how query heads map onto KV heads.
 *
 * @param layers   transformer layers, each with its own cache
 * @param heads    query heads
 * @param kvHeads  key/value heads; query head h reads KV head {@code h / (heads / kvHeads)}
 * @param headDim  floats per head
 * @param capacity the most tokens one sequence may hold (the context length)
 */
public record KvGeometry(int layers, int heads, int kvHeads, int headDim, int capacity) {

    public KvGeometry {
        if (layers <= 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0 || capacity <= 0 || heads % kvHeads != 0) {
            throw new IllegalArgumentException("invalid KV geometry: layers %d, heads %d, kv heads %d, head dim %d, capacity %d"
                    .formatted(layers, heads, kvHeads, headDim, capacity));
        }
    }

    /** Floats of K (or of V) per token per layer. */
    public int kvDim() {
        return kvHeads * headDim;
    }

    /** Query heads sharing one KV head. */
    public int groupSize() {
        return heads / kvHeads;
    }
}
