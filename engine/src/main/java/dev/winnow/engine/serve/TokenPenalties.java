package dev.winnow.engine.serve;

import dev.winnow.engine.runtime.LogitAdjustment;
import org.eclipse.collections.api.list.primitive.MutableIntList;
import org.eclipse.collections.api.map.primitive.MutableIntIntMap;
import org.eclipse.collections.impl.list.mutable.primitive.IntArrayList;
import org.eclipse.collections.impl.map.mutable.primitive.IntIntHashMap;

/**
 * OpenAI's logit adjustments for one sequence, applied to the logits before sampling: each token already
 * generated loses {@code presence + frequency x (times generated)}, and each biased token gains its bias.
 * Only generated tokens count, not the prompt's.
 */
final class TokenPenalties implements LogitAdjustment {
    private final float presence;
    private final float frequency;
    private final int[] biasedTokens;
    private final float[] biases;
    private final MutableIntIntMap counts = new IntIntHashMap();
    /** The distinct generated tokens, so applying walks them without a lambda per entry. */
    private final MutableIntList distinct = new IntArrayList();

    TokenPenalties(GenerationParams params) {
        this.presence = params.presencePenalty();
        this.frequency = params.frequencyPenalty();
        this.biasedTokens = params.logitBias().keySet().stream().mapToInt(Integer::intValue).toArray();
        this.biases = new float[biasedTokens.length];
        for (int i = 0; i < biasedTokens.length; i++) {
            biases[i] = params.logitBias().get(biasedTokens[i]);
        }
    }

    /** Counts a generated token. */
    @Override
    public void accept(int token) {
        if (presence == 0 && frequency == 0) {
            return;
        }
        if (counts.addToValue(token, 1) == 1) {
            distinct.add(token);
        }
    }

    /** Adjusts {@code logits} in place. */
    @Override
    public void apply(float[] logits) {
        for (int i = 0; i < distinct.size(); i++) {
            int token = distinct.get(i);
            logits[token] -= presence + frequency * counts.get(token);
        }
        for (int i = 0; i < biasedTokens.length; i++) {
            logits[biasedTokens[i]] += biases[i];
        }
    }
}
