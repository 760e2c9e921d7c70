package dev.winnow.engine.training;

import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.EngineConfig;
import dev.winnow.engine.runtime.Sequence;
import dev.winnow.engine.runtime.SequenceOptions;
import dev.winnow.engine.sampling.Sampler;
import dev.winnow.engine.sampling.SamplerConfig;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tensors.VectorMath;

import java.util.SplittableRandom;
import java.util.function.IntConsumer;
import java.util.zip.CRC32;

/**
 * Self-distillation data: sequences sampled from the base model itself (temperature 1, nothing truncated),
 * each starting with BOS, together with the dense model's next-token distribution at every position, the
 * teacher the pruned model is trained to match with KL divergence. A training row is a whole sequence, so the
 * student sees exactly the context the teacher saw.
 */
public record SelfDistillData(int[][] sequences, float[][] teachers, int trainingRows, int seqLen, long fingerprint,
                              String description) implements TrainingData {
    /** The most teacher probabilities kept in memory (1 GiB of floats). */
    static final long MAX_TEACHER_VALUES = 1L << 28;

    /**
     * Samples {@code count} training sequences and {@code heldOut} held-out ones of {@code seqLen} tokens from
     * {@code model} with the engine (a dense sequence with F32 keys and values, and the sampler) on {@code threads}
     * threads, sequence i with seed {@code seed + i}.
     *
     * @param progress told the number of sequences done after each one
     */
    public static SelfDistillData sample(Model model, int count, int heldOut, int seqLen, long seed, int threads,
                                         IntConsumer progress) {
        int vocab = model.config().vocabularySize();
        int total = count + heldOut;
        if (count < 1 || heldOut < 1) {
            throw new IllegalArgumentException("self-distillation needs at least 1 training and 1 held-out sequence, got "
                    + count + " and " + heldOut);
        }
        if ((long) total * seqLen * vocab > MAX_TEACHER_VALUES) {
            throw new IllegalArgumentException(("self-distillation of %d sequences of %d tokens keeps %,d teacher "
                    + "probabilities (vocabulary %d), more than the %,d allowed; use fewer sequences or a shorter --seq-len")
                    .formatted(total, seqLen, (long) total * seqLen * vocab, vocab, MAX_TEACHER_VALUES));
        }
        int bos = model.tokenizer().bos();
        if (bos < 0) {
            throw new IllegalArgumentException("self-distillation starts every sequence with BOS, and this model's vocabulary has none");
        }
        int[][] sequences = new int[total][];
        float[][] teachers = new float[total][];
        CRC32 crc = new CRC32();
        for (int i = 0; i < total; i++) {
            Sampler sampler = Sampler.create(new SamplerConfig(1f, 0, 1f, 0f, 1f, 0, seed + i));
            int[] tokens = new int[seqLen];
            tokens[0] = bos;
            teachers[i] = denseDistributions(model, tokens, threads, (position, logits) -> sampler.sample(logits));
            for (int token : tokens) {
                crc.update(token);
                crc.update(token >>> 8);
            }
            sequences[i] = tokens;
            progress.accept(i + 1);
        }
        long fingerprint = crc.getValue() ^ ((long) count << 32) ^ ((long) seqLen << 48) ^ seed * 31;
        String description = "self-distillation: %d sampled sequences of %d tokens (+%d held out), seed %d"
                .formatted(count, seqLen, heldOut, seed);
        return new SelfDistillData(sequences, teachers, count, seqLen, fingerprint, description);
    }

    /** Chooses token {@code position} of a sequence from the logits after the tokens before it. */
    @FunctionalInterface
    interface NextToken {
        int choose(int position, float[] logits);
    }

    /**
     * Runs the dense model along {@code tokens} on {@code threads} threads (F32 keys and values, so the teacher is
     * the model's own arithmetic), token 0 given and token t + 1 set to {@code next}'s choice after token t, and
     * returns its next-token distribution after every token (tokens.length x vocabulary).
     */
    static float[] denseDistributions(Model model, int[] tokens, int threads, NextToken next) {
        int n = tokens.length;
        int vocab = model.config().vocabularySize();
        EngineConfig exact = new EngineConfig(threads, n, new KvCacheConfig(KvCacheConfig.DEFAULT_PAGE_SIZE,
                GgmlType.F32, null), new PruningPolicy.None(), 1);
        float[] distributions = new float[n * vocab];
        try (Engine engine = new Engine(model, exact)) {
            Sequence sequence = engine.newSequence(SequenceOptions.forced(null));
            float[] logits = sequence.feed(tokens[0]);
            for (int t = 0; t < n; t++) {
                System.arraycopy(logits, 0, distributions, t * vocab, vocab);
                if (t + 1 < n) {
                    tokens[t + 1] = next.choose(t + 1, logits);
                    logits = sequence.feed(tokens[t + 1]);
                }
                VectorMath.softmax(distributions, t * vocab, vocab);
            }
        }
        return distributions;
    }

    @Override
    public boolean distilled() {
        return true;
    }

    @Override
    public int sequenceLength() {
        return seqLen;
    }

    @Override
    public Row trainingRow(long seed, int step, int row) {
        int index = new SplittableRandom(TrainingData.mix(seed, step, row)).nextInt(trainingRows);
        return new Row(sequences[index], null, teachers[index]);
    }

    @Override
    public int heldOutRows() {
        return sequences.length - trainingRows;
    }

    @Override
    public Row heldOutRow(int index) {
        return new Row(sequences[trainingRows + index], null, teachers[trainingRows + index]);
    }
}
