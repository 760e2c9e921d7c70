package dev.winnow.engine.sampling;

import dev.winnow.tensors.VectorMath;

import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;

/**
 * Greedy or random sampling through the filters of {@link Sampler#create}. Only what a filter needs is ordered:
 * top-k selects its k with a heap, top-p takes from a heap just the tokens likely enough to be in the nucleus,
 * min-p and the draw need no order at all. With top-k 0 and top-p 1 (the OpenAI defaults) a token therefore costs
 * a few linear passes over the vocabulary instead of a sort of it. Buffers are sized on the first call (and again
 * only if the vocabulary size changes): no vocabulary-sized allocation per token.
 */
final class ChainSampler implements Sampler {
    private final SamplerConfig config;
    private final RepetitionPenalty penalty;
    private final RandomGenerator random;
    private float[] penalized = new float[0];
    /** Ids of the tokens still in the running; a filter keeps some of them, in place. */
    private int[] candidates = new int[0];
    /** weights[i] = exp((logit - max logit) / temperature) of candidates[i]: probabilities before normalizing. */
    private float[] weights = new float[0];
    /** Sort keys: the logit's order-preserving bits above, {@code Integer.MAX_VALUE - id} below. */
    private long[] keys = new long[0];

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
        int best = checkedArgmax(scores);
        if (config.temperature() == 0f) {
            return best;
        }
        int size = scores.length;
        int count = config.topK() > 0 && config.topK() < size ? selectTopK(scores, config.topK()) : size;
        float total = weigh(scores, scores[best], count);
        if (config.topP() < 1f) {
            count = keepNucleus(scores, best, count, total);
        }
        if (config.minP() > 0f) {
            count = keepLikely(count);
        }
        return draw(count);
    }

    private void ensureCapacity(int vocabularySize) {
        if (candidates.length != vocabularySize) {
            penalized = new float[vocabularySize];
            candidates = new int[vocabularySize];
            weights = new float[vocabularySize];
            keys = new long[vocabularySize];
        }
    }

    /** The most likely token, the lowest id on ties; rejects NaN and +infinity, and logits that are all -infinity. */
    private static int checkedArgmax(float[] scores) {
        float max = Float.NEGATIVE_INFINITY;
        for (float score : scores) {
            max = Math.max(max, score);
        }
        if (Float.isNaN(max) || max == Float.POSITIVE_INFINITY) {
            for (int id = 0; ; id++) {
                if (Float.isNaN(scores[id]) || scores[id] == Float.POSITIVE_INFINITY) {
                    throw new IllegalArgumentException("logit " + id + " is " + scores[id]);
                }
            }
        }
        if (max == Float.NEGATIVE_INFINITY) {
            throw new IllegalArgumentException("all " + scores.length + " logits are -infinity");
        }
        int best = 0;
        while (scores[best] != max) {
            best++;
        }
        return best;
    }

    /**
     * The k most likely tokens, best first, into {@code candidates}: one pass with a min-heap of k keys, where a
     * logit below the heap's smallest is passed over with one comparison, then the heap emptied from its least.
     */
    private int selectTopK(float[] scores, int k) {
        for (int id = 0; id < k; id++) {
            keys[id] = sortKey(scores[id], id);
        }
        heapify(k);
        float floor = logitOf(keys[0]);
        for (int id = k; id < scores.length; id++) {
            if (scores[id] >= floor) {
                long key = sortKey(scores[id], id);
                if (key > keys[0]) {
                    keys[0] = key;
                    siftDown(0, k);
                    floor = logitOf(keys[0]);
                }
            }
        }
        for (int size = k; size > 0; size--) {
            candidates[size - 1] = idOf(popLeast(size));
        }
        return k;
    }

    private static long sortKey(float logit, int id) {
        int bits = Float.floatToRawIntBits(logit + 0f); // + 0f turns -0 into +0; NaN was rejected
        int ordered = bits ^ ((bits >> 31) & 0x7FFFFFFF); // ints that compare like the floats
        return (long) ordered << 32 | (Integer.MAX_VALUE - id);
    }

    private static int idOf(long key) {
        return Integer.MAX_VALUE - (int) key;
    }

    private static float logitOf(long key) {
        int ordered = (int) (key >>> 32);
        return Float.intBitsToFloat(ordered ^ ((ordered >> 31) & 0x7FFFFFFF));
    }

    /** Makes {@code keys[0, size)} a min-heap. */
    private void heapify(int size) {
        for (int parent = size / 2 - 1; parent >= 0; parent--) {
            siftDown(parent, size);
        }
    }

    /** Removes and returns the least key of the min-heap {@code keys[0, size)}. */
    private long popLeast(int size) {
        long least = keys[0];
        keys[0] = keys[size - 1];
        siftDown(0, size - 1);
        return least;
    }

    /** Min-heap step over {@code keys[0, size)}. */
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
     * Fills {@code weights} for the candidates (the most likely token gets exactly 1) and returns their sum. The
     * whole vocabulary: {@link VectorMath#expScaled}, a vector at a time, with the same bits per weight as the scalar
     * {@link VectorMath#exp} and the sum added in its fixed order (it passes no vector across a method call, so it
     * allocates nothing whatever the JIT inlines: the allocation check). The top-k's few: the scalar function.
     */
    private float weigh(float[] scores, float max, int count) {
        float inverseTemperature = 1f / config.temperature();
        if (count == scores.length) {
            for (int id = 0; id < count; id++) {
                candidates[id] = id;
            }
            return VectorMath.expScaled(scores, 0, weights, 0, count, max, inverseTemperature);
        }
        float total = 0;
        for (int i = 0; i < count; i++) {
            float weight = VectorMath.exp((scores[candidates[i]] - max) * inverseTemperature);
            weights[i] = weight;
            total += weight;
        }
        return total;
    }

    /**
     * Top-p: the smallest set of most likely candidates whose probabilities add up to at least top-p. Besides the
     * most likely token, which is always in it, a token with probability q below (1 - top-p) / (count - 1) never is:
     * were it needed, the tokens before it would add up to less than top-p, and it with the at most count - 1 tokens
     * after it, none more likely, to less than 1 - top-p. So only the tokens at or above that bound are taken, most
     * likely first, from a heap (a heap of the inverted keys, least first, is a heap of the keys, greatest first),
     * until they add up to top-p: no sort, and nothing allocated however many tokens pass the bound.
     */
    private int keepNucleus(float[] scores, int best, int count, float total) {
        if (count == 1) {
            return 1;
        }
        float max = scores[best];
        double bound = (1.0 - config.topP()) / (count - 1) * total;
        int likely = 0;
        for (int i = 0; i < count; i++) {
            if (weights[i] >= bound || candidates[i] == best) {
                keys[likely++] = ~sortKey(scores[candidates[i]], candidates[i]);
            }
        }
        heapify(likely);
        double needed = config.topP() * (double) total;
        double cumulative = 0;
        float inverseTemperature = 1f / config.temperature();
        for (int kept = 0; kept < likely; kept++) {
            int id = idOf(~popLeast(likely - kept));
            candidates[kept] = id;
            weights[kept] = VectorMath.exp((scores[id] - max) * inverseTemperature); // as weigh computed it
            cumulative += weights[kept];
            if (cumulative >= needed) {
                return kept + 1;
            }
        }
        return likely; // rounding left the sum just short: keep every likely token
    }

    /** Min-p: the candidates at least min-p times as likely as the most likely one (whose weight is 1). */
    private int keepLikely(int count) {
        float threshold = config.minP();
        int kept = 0;
        for (int i = 0; i < count; i++) {
            if (weights[i] >= threshold) {
                candidates[kept] = candidates[i];
                weights[kept++] = weights[i];
            }
        }
        return kept;
    }

    private int draw(int count) {
        double total = 0;
        for (int i = 0; i < count; i++) {
            total += weights[i];
        }
        double target = random.nextDouble() * total;
        double cumulative = 0;
        for (int i = 0; i < count - 1; i++) {
            cumulative += weights[i];
            if (target < cumulative) {
                return candidates[i];
            }
        }
        return candidates[count - 1]; // also where rounding leaves the target past the last sum
    }
}
