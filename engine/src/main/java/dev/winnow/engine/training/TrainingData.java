package dev.winnow.engine.training;

/**
 * Where the training sequences come from: a training row for every (step, batch row), chosen from the seed
 * alone so a resumed run sees exactly the data an uninterrupted one would, and a fixed held-out set.
 */
public sealed interface TrainingData permits TextData, SelfDistillData {

    /**
     * One sequence: its input tokens, and either the next tokens ({@code targets}, for cross-entropy) or the
     * teacher's next-token distributions ({@code teacher}, inputs.length x vocabulary, for KL divergence).
     */
    record Row(int[] inputs, int[] targets, float[] teacher) {
    }

    /** Whether the rows carry teacher distributions (KL divergence) rather than next tokens (cross-entropy). */
    boolean distilled();

    /** Tokens per sequence. */
    int sequenceLength();

    /** The sequence of batch row {@code row} at step {@code step}: a pure function of the arguments. */
    Row trainingRow(long seed, int step, int row);

    /** The number of held-out sequences. */
    int heldOutRows();

    Row heldOutRow(int index);

    /** A digest of the data, to check that a resumed run reads the same data. */
    long fingerprint();

    /** A line saying what the data is. */
    String description();

    /** A well-mixed 64-bit value of (seed, step, row), seeding the choice of a training row. */
    static long mix(long seed, int step, int row) {
        long z = seed + 0x9E3779B97F4A7C15L * (1 + step) + 0xD1B54A32D192ED03L * (1 + row);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
