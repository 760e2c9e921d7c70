package dev.winnow.engine.training;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.zip.CRC32;

/**
 * Training windows from a token stream: the first part of the stream is for training (random windows of
 * seqLen + 1 tokens), the rest is held out (consecutive windows, at most {@code maxHeldOut} of them).
 */
public final class TextData implements TrainingData {
    private final int[] stream;
    private final int seqLen;
    private final int split;
    private final int heldOutRows;
    private final String source;

    /**
     * @param holdout the fraction of the stream, at its end, held out for evaluation
     * @throws IllegalArgumentException when either part is too short for one window
     */
    public TextData(int[] stream, int seqLen, double holdout, int maxHeldOut, String source) {
        if (maxHeldOut < 1) {
            throw new IllegalArgumentException("at least 1 held-out window is needed, got " + maxHeldOut);
        }
        if (!(holdout > 0 && holdout < 1)) {
            throw new IllegalArgumentException("--holdout must be between 0 and 1, got " + holdout);
        }
        this.stream = stream;
        this.seqLen = seqLen;
        this.split = (int) Math.round(stream.length * (1 - holdout));
        this.source = source;
        if (split < seqLen + 1) {
            throw new IllegalArgumentException(("%s has %d tokens, %d of them for training: too few for one window of "
                    + "--seq-len %d (+1 for the targets); use a longer text or a shorter --seq-len")
                    .formatted(source, stream.length, split, seqLen));
        }
        int available = (stream.length - split - 1) / seqLen;
        if (available < 1) {
            throw new IllegalArgumentException(("%s: the held-out part (%d tokens, --holdout %s) is too short for one "
                    + "window of --seq-len %d (+1); raise --holdout or lower --seq-len")
                    .formatted(source, stream.length - split, holdout, seqLen));
        }
        this.heldOutRows = Math.min(maxHeldOut, available);
    }

    @Override
    public int sequenceLength() {
        return seqLen;
    }

    @Override
    public Row trainingRow(long seed, int step, int row) {
        int start = new SplittableRandom(TrainingData.mix(seed, step, row)).nextInt(split - seqLen);
        return window(start);
    }

    @Override
    public int heldOutRows() {
        return heldOutRows;
    }

    @Override
    public Row heldOutRow(int index) {
        return window(split + index * seqLen);
    }

    private Row window(int start) {
        return new Row(Arrays.copyOfRange(stream, start, start + seqLen),
                Arrays.copyOfRange(stream, start + 1, start + seqLen + 1), null);
    }

    /** Tokens used for training (the windows start below this). */
    public int trainingTokens() {
        return split;
    }

    @Override
    public long fingerprint() {
        CRC32 crc = new CRC32();
        for (int token : stream) {
            crc.update(token);
            crc.update(token >>> 8);
            crc.update(token >>> 16);
        }
        return crc.getValue() ^ ((long) stream.length << 32) ^ ((long) split << 40);
    }

    @Override
    public String description() {
        return "%s: %,d tokens, %,d for training, %d held-out windows of %d".formatted(source, stream.length, split,
                heldOutRows, seqLen);
    }
}
