package dev.winnow.engine.sampling;

/**
 * Picks the next token from a model's logits. A sampler keeps state (buffers, the random generator, the history
 * for the repetition penalty): use one per generation stream, from one thread.
 */
public interface Sampler {

    /**
     * The id of the chosen token; {@code logits[id]} is its logit. The array is read, never modified.
     *
     * @throws IllegalArgumentException if the logits are empty, contain NaN or +infinity, or are all -infinity
     */
    int sample(float[] logits);

    /** Records a token of the sequence (prompt or generated) for the repetition penalty. */
    default void accept(int token) {
    }

    /**
     * The sampler for a configuration. Temperature 0: the repetition penalty, then the most likely token (lowest id
     * on ties). Otherwise: repetition penalty, top-k, temperature, softmax, top-p, min-p, then a random draw from
     * what is left with a generator seeded by {@link SamplerConfig#seed()}.
     */
    static Sampler create(SamplerConfig config) {
        return new ChainSampler(config);
    }
}
