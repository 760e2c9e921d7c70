package dev.winnow.cli;

import dev.winnow.engine.kv.PagedKvCache;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * Says when a learned pruning module keeps almost nothing in a layer: that layer then attends to little more than
 * the current token, which a user would not guess from the overall kept fraction. Each layer is named once.
 */
final class ThinLayerWarning {
    /** Below this share of earlier tokens kept, a layer is named. */
    static final double KEPT_BELOW = 0.05;

    private final boolean[] named;

    ThinLayerWarning(int layers) {
        this.named = new boolean[layers];
    }

    /** Names, on {@code err}, each layer not named before that now keeps less than {@link #KEPT_BELOW} of its tokens. */
    void check(PagedKvCache cache, PrintWriter err) {
        for (int layer = 0; layer < named.length; layer++) {
            PagedKvCache.LayerStats stats = cache.stats(layer);
            if (!named[layer] && stats.sequenceLength() > 1 && stats.keptFraction() < KEPT_BELOW) {
                named[layer] = true;
                err.printf(Locale.ROOT, "winnow: warning: layer %d keeps %.1f%% of earlier tokens (%,d of %,d): the "
                                + "pruning module drops almost everything there%n", layer, 100 * stats.keptFraction(),
                        stats.liveTokens(), stats.sequenceLength());
            }
        }
        err.flush();
    }
}
