package dev.winnow.engine.tokenizer;

import java.util.Arrays;

/**
 * A max-heap of candidate merges of two adjacent symbols, ordered by score (highest first) and then by
 * position (leftmost first). Entries live in parallel primitive arrays so that no object is made per merge.
 * {@link #poll()} moves the best entry into {@link #left()}, {@link #right()} and {@link #size()}.
 */
final class BigramQueue {
    private float[] scores;
    private int[] lefts;
    private int[] rights;
    private int[] sizes;
    private int count;
    private int polledLeft;
    private int polledRight;
    private int polledSize;

    BigramQueue(int initialCapacity) {
        int capacity = Math.max(4, initialCapacity);
        scores = new float[capacity];
        lefts = new int[capacity];
        rights = new int[capacity];
        sizes = new int[capacity];
    }

    boolean isEmpty() {
        return count == 0;
    }

    /** Adds the merge of symbols {@code left} and {@code right} into a token of {@code size} bytes. */
    void add(float score, int left, int right, int size) {
        if (count == scores.length) {
            int capacity = count * 2;
            scores = Arrays.copyOf(scores, capacity);
            lefts = Arrays.copyOf(lefts, capacity);
            rights = Arrays.copyOf(rights, capacity);
            sizes = Arrays.copyOf(sizes, capacity);
        }
        int child = count++;
        while (child > 0) {
            int parent = (child - 1) >>> 1;
            if (!before(score, left, scores[parent], lefts[parent])) {
                break;
            }
            move(parent, child);
            child = parent;
        }
        set(child, score, left, right, size);
    }

    /** Removes the best entry and makes it readable through {@link #left()}, {@link #right()}, {@link #size()}. */
    void poll() {
        if (count == 0) {
            throw new IllegalStateException("the queue is empty");
        }
        polledLeft = lefts[0];
        polledRight = rights[0];
        polledSize = sizes[0];
        int last = --count;
        float score = scores[last];
        int left = lefts[last];
        int right = rights[last];
        int size = sizes[last];
        int parent = 0;
        while (true) {
            int child = 2 * parent + 1;
            if (child >= count) {
                break;
            }
            if (child + 1 < count && before(scores[child + 1], lefts[child + 1], scores[child], lefts[child])) {
                child++;
            }
            if (!before(scores[child], lefts[child], score, left)) {
                break;
            }
            move(child, parent);
            parent = child;
        }
        if (count > 0) {
            set(parent, score, left, right, size);
        }
    }

    int left() {
        return polledLeft;
    }

    int right() {
        return polledRight;
    }

    int size() {
        return polledSize;
    }

    private static boolean before(float score, int left, float otherScore, int otherLeft) {
        return score > otherScore || (score == otherScore && left < otherLeft);
    }

    private void move(int from, int to) {
        set(to, scores[from], lefts[from], rights[from], sizes[from]);
    }

    private void set(int index, float score, int left, int right, int size) {
        scores[index] = score;
        lefts[index] = left;
        rights[index] = right;
        sizes[index] = size;
    }
}
