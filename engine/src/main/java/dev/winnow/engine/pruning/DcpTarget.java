package dev.winnow.engine.pruning;

import dev.winnow.engine.model.DcpCalibration;
import dev.winnow.engine.model.PruningModule;

/**
 * What a DCP module is steered toward at inference: nothing (its own decisions), a kept fraction of the (query,
 * earlier token) pairs, a number of live tokens per layer, or an offset on every layer's bias. {@link DcpPruner} holds every query to
 * {@link #earlierLimit}, dropping the lowest-scoring tokens when there are more (see there for how).
 */
public sealed interface DcpTarget {

    /** The most earlier tokens the query at {@code position} may see in a layer. */
    int earlierLimit(int position);

    /** The {@code --prune} spelling. */
    String spec();

    /** What {@code module} is held to: this target, unless the module's calibration gives a better way to reach it. */
    default DcpTarget resolve(PruningModule module) {
        return this;
    }

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
     * About {@code fraction} of the (query, earlier token) pairs kept. A module calibrated on a sample of text
     * ({@link DcpCalibration}) votes as usual with the one offset that keeps that fraction there. An uncalibrated
     * one only ranks: each query sees {@code fraction} of its earlier tokens (rounded), the module's highest-scoring,
     * so the kept fraction is exact, but the module's choice of when to keep what is lost (far worse perplexity,
     * docs/results.md).
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

        @Override
        public DcpTarget resolve(PruningModule module) {
            return module.calibration().<DcpTarget>map(c -> new Offset(c.offsetFor(fraction))).orElse(this);
        }
    }

    /** The module's own decisions with {@code shift} added to every layer's bias: above 0 keeps more, below fewer. */
    record Offset(double shift) implements DcpTarget {
        public Offset {
            if (!Double.isFinite(shift)) {
                throw new IllegalArgumentException("offset=X needs a finite X, got " + shift);
            }
        }

        @Override
        public int earlierLimit(int position) {
            return Integer.MAX_VALUE;
        }

        @Override
        public String spec() {
            return "dcp:offset=" + shift;
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
