package dev.winnow.engine.training;

import dev.winnow.engine.model.Model;
import dev.winnow.tensors.WorkerPool;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;
import java.util.zip.CRC32;

/**
 * Training windows from a token stream: the first part of the stream is for training (random windows of
 * seqLen + 1 tokens), the rest is held out (consecutive windows, at most {@code maxHeldOut} of them).
 *
 * <p>{@link #distilled} turns it into distillation on the text: the targets are the dense base model's own
 * next-token distributions on each window (KL divergence), so training follows the model the user starts from
 * rather than over-fitting the text. The teachers are computed once, for the consecutive training windows (a
 * window's distributions depend on where it starts, so windows come from that fixed set) and the held-out ones.
 */
public final class TextData implements TrainingData {
    private final int[] stream;
    private final int seqLen;
    private final int split;
    private final int heldOutRows;
    private final String source;
    /** null, or the teacher of training window i (starting at i * seqLen), then of the held-out windows. */
    private final float[][] teachers;

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
        int split = (int) Math.round(stream.length * (1 - holdout));
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
        this(stream, seqLen, split, Math.min(maxHeldOut, available), source, null);
    }

    private TextData(int[] stream, int seqLen, int split, int heldOutRows, String source, float[][] teachers) {
        this.stream = stream;
        this.seqLen = seqLen;
        this.split = split;
        this.heldOutRows = heldOutRows;
        this.source = source;
        this.teachers = teachers;
    }

    /**
     * The same text with {@code teacher}'s dense next-token distributions as targets.
     *
     * @param progress told the number of windows done after each one (from the pool's threads)
     * @throws IllegalArgumentException when the teachers would not fit in {@link SelfDistillData#MAX_TEACHER_VALUES}
     */
    public static TextData distilled(TextData text, Model teacher, WorkerPool pool, IntConsumer progress) {
        int windows = text.distillationWindows();
        int trainingWindows = windows - text.heldOutRows;
        int vocab = teacher.config().vocabularySize();
        long values = (long) windows * text.seqLen * vocab;
        if (values > SelfDistillData.MAX_TEACHER_VALUES) {
            throw new IllegalArgumentException(("distilling %s keeps %,d teacher probabilities (%d windows of %d tokens, "
                    + "vocabulary %d), more than the %,d allowed; use a shorter text or --seq-len")
                    .formatted(text.source, values, windows, text.seqLen, vocab, SelfDistillData.MAX_TEACHER_VALUES));
        }
        float[][] teachers = new float[windows][];
        AtomicInteger done = new AtomicInteger();
        // A window per thread, each decoded on its own thread: a model this small gains nothing from splitting
        // one token's products, and loses much to the hand-offs when other programs share the cores.
        pool.parallelForPieces(windows, 1, (first, last) -> {
            for (int i = first; i < last; i++) {
                int start = i < trainingWindows ? i * text.seqLen : text.split + (i - trainingWindows) * text.seqLen;
                int[] tokens = Arrays.copyOfRange(text.stream, start, start + text.seqLen);
                teachers[i] = SelfDistillData.denseDistributions(teacher, tokens, 1,
                        (position, logits) -> tokens[position]);
                progress.accept(done.incrementAndGet());
            }
        });
        return new TextData(text.stream, text.seqLen, text.split, text.heldOutRows, text.source, teachers);
    }

    /** The number of teacher windows {@link #distilled} computes for this text. */
    public int distillationWindows() {
        return (split - 1) / seqLen + heldOutRows;
    }

    @Override
    public boolean distilled() {
        return teachers != null;
    }

    @Override
    public int sequenceLength() {
        return seqLen;
    }

    @Override
    public Row trainingRow(long seed, int step, int row) {
        SplittableRandom random = new SplittableRandom(TrainingData.mix(seed, step, row));
        if (teachers == null) {
            return window(random.nextInt(split - seqLen), null);
        }
        int index = random.nextInt(teachers.length - heldOutRows);
        return window(index * seqLen, teachers[index]);
    }

    @Override
    public int heldOutRows() {
        return heldOutRows;
    }

    @Override
    public Row heldOutRow(int index) {
        return window(split + index * seqLen, teachers == null ? null : teachers[teachers.length - heldOutRows + index]);
    }

    /** The window at {@code start}: next tokens as targets, or the teacher's distributions when given. */
    private Row window(int start, float[] teacher) {
        int[] targets = teacher != null ? null : Arrays.copyOfRange(stream, start + 1, start + seqLen + 1);
        return new Row(Arrays.copyOfRange(stream, start, start + seqLen), targets, teacher);
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
        long text = crc.getValue() ^ ((long) stream.length << 32) ^ ((long) split << 40);
        return teachers == null ? text : ~text;
    }

    @Override
    public String description() {
        String text = "%s: %,d tokens, %,d for training, %d held-out windows of %d".formatted(source, stream.length, split,
                heldOutRows, seqLen);
        return teachers == null ? text : text + ", distilled from the dense model on %d training windows"
                .formatted(teachers.length - heldOutRows);
    }
}
