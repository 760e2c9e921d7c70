package dev.winnow.engine.sampling;

import org.eclipse.collections.api.iterator.IntIterator;
import org.eclipse.collections.impl.map.mutable.primitive.IntIntHashMap;

/**
 * llama.cpp's repetition penalty: each distinct token among the last N accepted ones has its logit divided by the
 * penalty when positive and multiplied by it otherwise, so that it becomes less likely for penalties above 1.
 */
final class RepetitionPenalty {
    private final float penalty;
    private final int[] window;
    /** How often each token occurs in the window. */
    private final IntIntHashMap counts = new IntIntHashMap();
    private int nextSlot;
    private int filled;

    RepetitionPenalty(float penalty, int lastN) {
        this.penalty = penalty;
        this.window = new int[penalty == 1f ? 0 : lastN];
    }

    boolean isActive() {
        return window.length > 0;
    }

    void accept(int token) {
        if (token < 0) {
            throw new IllegalArgumentException("token id " + token + " is negative");
        }
        if (!isActive()) {
            return;
        }
        if (filled == window.length) {
            int evicted = window[nextSlot];
            if (counts.addToValue(evicted, -1) == 0) {
                counts.remove(evicted);
            }
        } else {
            filled++;
        }
        window[nextSlot] = token;
        counts.addToValue(token, 1);
        nextSlot = (nextSlot + 1) % window.length;
    }

    /** Copies {@code logits} into {@code penalized} and applies the penalty there. */
    void apply(float[] logits, float[] penalized) {
        System.arraycopy(logits, 0, penalized, 0, logits.length);
        for (IntIterator tokens = counts.keysView().intIterator(); tokens.hasNext(); ) {
            int token = tokens.next();
            if (token < penalized.length) {
                float logit = penalized[token];
                penalized[token] = logit > 0 ? logit / penalty : logit * penalty;
            }
        }
    }
}
