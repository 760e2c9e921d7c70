package dev.winnow.engine.sampling;

import java.util.Arrays;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;

/**
 * Greedy or random sampling through the filters of {@link Sampler#create}. Candidates are kept sorted by logit
 * (highest first, lowest id on ties), so every filter keeps a prefix of them. Buffers are sized on the first call
 * (and again only if the vocabulary size changes): no vocabulary-sized allocation per token.
 */
final class ChainSampler implements Sampler {
    private final SamplerConfig config;
    private final RepetitionPenalty penalty;
    private final RandomGenerator random;
    private float[] penalized = new float[0];
    /** Sort keys: the logit's order-preserving bits above, {@code Integer.MAX_VALUE - id} below. */
    private long[] keys = new long[0];
    private int[] candidates = new int[0];
    private double[] probabilities = new double[0];

    ChainSampler(SamplerConfig config) {
        this.config = config;
        this.penalty = new RepetitionPenalty(config.repeatPenalty(), config.repeatLastN());
        this.random = RandomGeneratorFactory.of("L64X128MixRandom").create(config.seed());
    }

    @Override
    public void accept(int token) {
        penalty.accept(token);
    }

    @Override
    public int sample(float[] logits) {
        if (logits == null || logits.length == 0) {
            throw new IllegalArgumentException("there are no logits to sample from");
        }
        ensureCapacity(logits.length);
        float[] scores = logits;
        if (penalty.isActive()) {
            penalty.apply(logits, penalized);
            scores = penalized;
        }
        int count = sortTopCandidates(scores);
        if (config.temperature() == 0f) {
            return candidates[0];
        }
        count = softmax(scores, count);
        count = keepTopP(count);
        count = keepMinP(count);
        return draw(count);
    }

    private void ensureCapacity(int vocabularySize) {
        if (keys.length != vocabularySize) {
            penalized = new float[vocabularySize];
            keys = new long[vocabularySize];
            candidates = new int[vocabularySize];
            probabilities = new double[vocabularySize];
        }
    }

    /**
     * Puts the ids of the best {@code topK} tokens (all for top-k 0, one when greedy) into {@code candidates},
     * best first, and returns how many.
     */
    private int sortTopCandidates(float[] scores) {
        int size = scores.length;
        int limit = config.temperature() == 0f ? 1 : config.topK() == 0 ? size : Math.min(config.topK(), size);
        int heapSize = 0;
        for (int id = 0; id < size; id++) {
            long key = sortKey(scores[id], id);
            if (heapSize < limit) {
                keys[heapSize++] = key;
                if (heapSize == limit) {
                    heapify(limit);
                }
            } else if (key > keys[0]) {
                keys[0] = key;
                siftDown(0, limit);
            }
        }
        Arrays.sort(keys, 0, limit);
        for (int rank = 0; rank < limit; rank++) {
            candidates[rank] = Integer.MAX_VALUE - (int) keys[limit - 1 - rank];
        }
        if (scores[candidates[0]] == Float.NEGATIVE_INFINITY) {
            throw new IllegalArgumentException("all " + size + " logits are -infinity");
        }
        return limit;
    }

    private static long sortKey(float logit, int id) {
        if (Float.isNaN(logit) || logit == Float.POSITIVE_INFINITY) {
            throw new IllegalArgumentException("logit " + id + " is " + logit);
        }
        int bits = Float.floatToIntBits(logit + 0f); // + 0f turns -0 into +0
        int ordered = bits ^ ((bits >> 31) & 0x7FFFFFFF); // ints that compare like the floats
        return (long) ordered << 32 | (Integer.MAX_VALUE - id);
    }

    /** Min-heap over {@code keys[0, size)}. */
    private void heapify(int size) {
        for (int parent = size / 2 - 1; parent >= 0; parent--) {
            siftDown(parent, size);
        }
    }

    private void siftDown(int parent, int size) {
        long key = keys[parent];
        while (true) {
            int child = 2 * parent + 1;
            if (child >= size) {
                break;
            }
            if (child + 1 < size && keys[child + 1] < keys[child]) {
                child++;
            }
            if (keys[child] >= key) {
                break;
            }
            keys[parent] = keys[child];
            parent = child;
        }
        keys[parent] = key;
    }

    /**
     * Temperature-scaled softmax over the candidates into {@code probabilities}; returns how many have a non-zero
     * probability (a prefix, since they are sorted).
     */
    private int softmax(float[] scores, int count) {
        double max = scores[candidates[0]];
        double temperature = config.temperature();
        double sum = 0;
        int nonZero = 0;
        for (int rank = 0; rank < count; rank++) {
            double weight = Math.exp((scores[candidates[rank]] - max) / temperature);
            probabilities[rank] = weight;
            sum += weight;
            if (weight > 0) {
                nonZero = rank + 1;
            }
        }
        for (int rank = 0; rank < nonZero; rank++) {
            probabilities[rank] /= sum;
        }
        return nonZero;
    }

    /** The smallest prefix whose probabilities add up to at least top-p. */
    private int keepTopP(int count) {
        double cumulative = 0;
        for (int rank = 0; rank < count; rank++) {
            cumulative += probabilities[rank];
            if (cumulative >= config.topP()) {
                return rank + 1;
            }
        }
        return count;
    }

    /** The prefix of tokens at least min-p times as likely as the most likely one. */
    private int keepMinP(int count) {
        double threshold = probabilities[0] * config.minP();
        int kept = 1;
        while (kept < count && probabilities[kept] >= threshold) {
            kept++;
        }
        return kept;
    }

    private int draw(int count) {
        double total = 0;
        for (int rank = 0; rank < count; rank++) {
            total += probabilities[rank];
        }
        double target = random.nextDouble() * total;
        double cumulative = 0;
        for (int rank = 0; rank < count - 1; rank++) {
            cumulative += probabilities[rank];
            if (target < cumulative) {
                return candidates[rank];
            }
        }
        return candidates[count - 1]; // also where rounding leaves the target past the last sum
    }
}
