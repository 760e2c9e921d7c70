package dev.winnow.engine.model;

import dev.winnow.engine.kv.AttentionWeights;
import dev.winnow.tensors.WorkerPool;

/**
 * One sequence's pruning decisions, called by the forward pass for each layer of each block of tokens:
 * after the block's keys and values are stored, around the layer's attention. A pruner hides tokens from the
 * queries that must no longer see them and, after the attention, frees their cache slots for good.
 */
public interface Pruner {

    /** The pruner that keeps everything: each hook does nothing. */
    Pruner NONE = new Pruner() {
    };

    /**
     * Called once the block's keys and values are in the layer's cache, before its attention.
     *
     * @param normalized the layer's attention-norm output for the block, {@code count x dim}
     */
    default void beforeAttention(int layer, float[] normalized, int firstPosition, int count, WorkerPool pool) {
    }

    /** The attention weights this pruner needs from the layer's attention of the block, or null. */
    default AttentionWeights attentionWeights(int layer, int firstPosition, int count) {
        return null;
    }

    /** Called after the layer's attention of the block: the last decisions, then the dropped slots are freed. */
    default void afterAttention(int layer, int firstPosition, int count) {
    }

    /** Forgets what the pruner learned about the sequence, when the sequence starts over. */
    default void reset() {
    }
}
