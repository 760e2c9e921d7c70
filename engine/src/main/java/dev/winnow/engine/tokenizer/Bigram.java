package dev.winnow.engine.tokenizer;

/**
 * A candidate merge of two adjacent symbols, {@code left} and {@code right}, into a token of {@code size} bytes.
 * In a priority queue the highest score comes out first, then the leftmost pair.
 */
record Bigram(float score, int left, int right, int size) implements Comparable<Bigram> {
    @Override
    public int compareTo(Bigram other) {
        // Not Float.compare, which puts -0 below 0: scores compare as in llama.cpp, where -0 and 0 tie.
        if (score != other.score) {
            return score > other.score ? -1 : 1;
        }
        return Integer.compare(left, other.left);
    }
}
