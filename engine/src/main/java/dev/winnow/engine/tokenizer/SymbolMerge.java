package dev.winnow.engine.tokenizer;

import java.util.PriorityQueue;

import org.eclipse.collections.impl.list.mutable.primitive.IntArrayList;

/**
 * The merge loop of both tokenizers: a text's UTF-8 characters become symbols (byte ranges in a doubly linked list;
 * a merged-away symbol has length 0), and the adjacent pair that scores best merges (leftmost on ties), again and
 * again, until no pair can. Candidate pairs wait in a priority queue; one that went stale is skipped when it comes up.
 */
final class SymbolMerge {
    private SymbolMerge() {
    }

    /** Scores merging the symbol at {@code start} with the one after it: higher first, NaN when they cannot merge. */
    @FunctionalInterface
    interface PairScore {
        float score(int start, int leftLength, int rightLength);
    }

    /** A candidate merge of symbols {@code left} and {@code right} into {@code size} bytes. */
    private record Pair(float score, int left, int right, int size) implements Comparable<Pair> {
        @Override
        public int compareTo(Pair other) {
            // Not Float.compare, which puts -0 below 0: scores compare as in llama.cpp, where -0 and 0 tie.
            if (score != other.score) {
                return score > other.score ? -1 : 1;
            }
            return Integer.compare(left, other.left);
        }
    }

    /** The symbols once no pair can merge, in order, as start and length of each: {start, length, start, ...}. */
    static int[] merge(byte[] bytes, PairScore scores) {
        int[] start = new int[bytes.length];
        int[] length = new int[bytes.length];
        int[] previous = new int[bytes.length];
        int[] next = new int[bytes.length];
        int count = 0;
        for (int offset = 0; offset < bytes.length; count++) {
            int characterLength = Math.min(utf8Length(bytes[offset]), bytes.length - offset);
            start[count] = offset;
            length[count] = characterLength;
            previous[count] = count - 1;
            offset += characterLength;
            next[count] = offset == bytes.length ? -1 : count + 1;
        }
        PriorityQueue<Pair> queue = new PriorityQueue<>();
        for (int right = 1; right < count; right++) {
            offer(scores, start, length, right - 1, right, queue);
        }
        while (!queue.isEmpty()) {
            Pair best = queue.poll();
            int left = best.left();
            int right = best.right();
            if (length[left] == 0 || length[right] == 0 || length[left] + length[right] != best.size()) {
                continue; // one side was merged into something else since this pair was offered
            }
            length[left] += length[right];
            length[right] = 0;
            next[left] = next[right];
            if (next[right] >= 0) {
                previous[next[right]] = left;
            }
            offer(scores, start, length, previous[left], left, queue);
            offer(scores, start, length, left, next[left], queue);
        }
        IntArrayList symbols = new IntArrayList(2 * count);
        for (int symbol = 0; count > 0 && symbol >= 0; symbol = next[symbol]) {
            symbols.add(start[symbol]);
            symbols.add(length[symbol]);
        }
        return symbols.toArray();
    }

    private static void offer(PairScore scores, int[] start, int[] length, int left, int right, PriorityQueue<Pair> queue) {
        if (left >= 0 && right >= 0) {
            float score = scores.score(start[left], length[left], length[right]);
            if (!Float.isNaN(score)) {
                queue.add(new Pair(score, left, right, length[left] + length[right]));
            }
        }
    }

    /** The length of the UTF-8 sequence that starts with this byte; 1 for a byte that cannot start one. */
    private static int utf8Length(byte lead) {
        return switch ((lead & 0xFF) >>> 4) {
            case 0xC, 0xD -> 2;
            case 0xE -> 3;
            case 0xF -> 4;
            default -> 1;
        };
    }
}
