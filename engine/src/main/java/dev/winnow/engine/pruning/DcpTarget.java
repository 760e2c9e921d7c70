package dev.winnow.engine.pruning;

/**
 * What a DCP module is steered toward at inference: nothing (its own decisions), a kept fraction of the (query,
 * earlier token) pairs, or a number of live tokens per layer. {@link DcpPruner} holds every query to
 * {@link #earlierLimit}, dropping the lowest-scoring tokens when there are more (see there for how).
 */
public sealed interface DcpTarget {

    /** The most earlier tokens the query at {@code position} may see in a layer. */
    int earlierLimit(int position);

    /** The {@code --prune} spelling. */
    String spec();

    /** The module's own decisions: no limit, no offset. */
    record Own() implements DcpTarget {
        @Override
        public int earlierLimit(int position) {
            return Integer.MAX_VALUE;
        }

        @Override
        public String spec() {
            return "dcp";
        }
    }

    /**
     * Each query sees {@code fraction} of its earlier tokens (rounded), the module's highest-scoring, so the kept
     * fraction of the pairs comes to {@code fraction}.
     */
    record Keep(double fraction) implements DcpTarget {
        public Keep {
            if (!(fraction > 0 && fraction <= 1)) {
                throw new IllegalArgumentException("keep=F needs 0 < F <= 1, got " + fraction);
            }
        }

        @Override
        public int earlierLimit(int position) {
            return (int) Math.round(fraction * position);
        }

        @Override
        public String spec() {
            return "dcp:keep=" + fraction;
        }
    }

    /** Every layer holds at most {@code tokens} tokens after each step, the current one included. */
    record Budget(int tokens) implements DcpTarget {
        public Budget {
            if (tokens < 1) {
                throw new IllegalArgumentException("budget=N needs N >= 1, got " + tokens);
            }
        }

        @Override
        public int earlierLimit(int position) {
            return tokens - 1;
        }

        @Override
        public String spec() {
            return "dcp:budget=" + tokens;
        }
    }
}
