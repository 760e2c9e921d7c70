package dev.winnow.engine.runtime;

/** A change to the logits before sampling that depends on what was generated (the server's penalties). */
public interface LogitAdjustment {
    /** Adjusts the next token's logits in place. */
    void apply(float[] logits);

    /** Records a generated token. */
    void accept(int token);
}
