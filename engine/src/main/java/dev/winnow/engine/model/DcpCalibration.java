package dev.winnow.engine.model;

import dev.winnow.gguf.GgufArray;
import dev.winnow.gguf.GgufMetadata;
import dev.winnow.gguf.GgufValue;

import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.DoubleUnaryOperator;

/**
 * How a DCP module's kept fraction of (query, earlier token) pairs follows one offset added to every layer's bias,
 * measured on a sample of text: the table {@code dcp:keep=F} reads the offset for F from. One shared offset keeps
 * the module's own decisions (each layer its own share, each token for as long as the module would keep it), only
 * more or fewer of them.
 *
 * @param offsets increasing offsets
 * @param kept    the fraction of pairs kept at each offset (never decreasing)
 */
public record DcpCalibration(float[] offsets, float[] kept) {
    public static final String OFFSETS_KEY = "winnow.dcp.calibration.offsets";
    public static final String KEPT_KEY = "winnow.dcp.calibration.kept";
    /** The most the kept fraction may grow between neighbouring offsets of a table {@link #measure} makes. */
    public static final double STEP = 0.02;
    /** The most passes over the text {@link #measure} makes. */
    public static final int MAX_PASSES = 80;
    private static final double WIDEST_OFFSET = 1024;
    /** Gaps no wider than this are not halved again: a jump there is a step of the module's scores, not a slope. */
    private static final double NARROWEST_GAP = 1.0 / 64;

    public DcpCalibration {
        if (offsets.length < 2 || offsets.length != kept.length) {
            throw new IllegalArgumentException("a calibration needs at least 2 offsets, each with its kept fraction; got %d and %d"
                    .formatted(offsets.length, kept.length));
        }
        for (int i = 0; i < offsets.length; i++) {
            if (!Float.isFinite(offsets[i]) || (i > 0 && !(offsets[i] > offsets[i - 1]))) {
                throw new IllegalArgumentException("the offsets must be finite and increasing: " + Arrays.toString(offsets));
            }
            if (!(kept[i] >= 0 && kept[i] <= 1) || (i > 0 && kept[i] < kept[i - 1])) {
                throw new IllegalArgumentException("the kept fractions must lie in [0, 1] and never decrease: " + Arrays.toString(kept));
            }
        }
    }

    /**
     * The offset at which the module keeps {@code fraction} of the pairs, interpolated linearly between the two
     * offsets around it; the first or last offset where the table does not reach that far.
     */
    public double offsetFor(double fraction) {
        int last = kept.length - 1;
        if (fraction <= kept[0]) {
            return offsets[0];
        }
        if (fraction >= kept[last]) {
            return offsets[last];
        }
        int above = 1;
        while (kept[above] < fraction) {
            above++;
        }
        double low = kept[above - 1];
        double high = kept[above];
        double t = high == low ? 0 : (fraction - low) / (high - low);
        return offsets[above - 1] + t * (offsets[above] - offsets[above - 1]);
    }

    /**
     * Measures the table with {@code keptAt} (the kept fraction of the pairs at an offset, one pass over the
     * text): from offset 0 outwards, doubling, until the module keeps almost nothing and almost everything, then
     * halving each gap where the kept fraction grows by more than {@link #STEP} (down to {@link #NARROWEST_GAP}), so
     * that the fraction read at an interpolated offset is within {@code STEP} of the table's, on the sample at least.
     */
    public static DcpCalibration measure(DoubleUnaryOperator keptAt) {
        TreeMap<Double, Double> table = new TreeMap<>();
        table.put(0.0, keptAt.applyAsDouble(0));
        for (double offset = 1; offset <= WIDEST_OFFSET && table.lastEntry().getValue() < 1 - STEP; offset *= 2) {
            table.put(offset, keptAt.applyAsDouble(offset));
        }
        for (double offset = -1; offset >= -WIDEST_OFFSET && table.firstEntry().getValue() > STEP; offset *= 2) {
            table.put(offset, keptAt.applyAsDouble(offset));
        }
        boolean refined = true;
        while (refined && table.size() < MAX_PASSES) {
            refined = false;
            for (var low = table.firstEntry(); low != null && table.size() < MAX_PASSES; low = table.higherEntry(low.getKey())) {
                var high = table.higherEntry(low.getKey());
                double middle = high == null ? Double.NaN : (low.getKey() + high.getKey()) / 2;
                if (high != null && high.getValue() - low.getValue() > STEP && high.getKey() - low.getKey() > NARROWEST_GAP) {
                    table.put(middle, keptAt.applyAsDouble(middle));
                    refined = true;
                }
            }
        }
        float[] offsets = new float[table.size()];
        float[] kept = new float[table.size()];
        int i = 0;
        float most = 0;
        for (var entry : table.entrySet()) {
            offsets[i] = entry.getKey().floatValue();
            most = Math.max(most, entry.getValue().floatValue()); // a pass's noise must not make the table fall
            kept[i++] = most;
        }
        return new DcpCalibration(offsets, kept);
    }

    /** The file's calibration, if it has one; a malformed one is an error naming the file. */
    static Optional<DcpCalibration> read(GgufMetadata metadata, String fileName) {
        Optional<GgufValue> offsets = metadata.find(OFFSETS_KEY);
        Optional<GgufValue> kept = metadata.find(KEPT_KEY);
        if (offsets.isEmpty() && kept.isEmpty()) {
            return Optional.empty();
        }
        try {
            return Optional.of(new DcpCalibration(offsets.orElseThrow().asArray().floats(), kept.orElseThrow().asArray().floats()));
        } catch (RuntimeException e) {
            throw new ModelLoadException("%s: %s and %s must be two FLOAT32 arrays of a calibration (%s)"
                    .formatted(fileName, OFFSETS_KEY, KEPT_KEY, e.getMessage()));
        }
    }

    /** The metadata entries that record this calibration. */
    public Map<String, GgufValue> metadata() {
        return Map.of(OFFSETS_KEY, GgufValue.ofArray(GgufArray.ofFloat32s(offsets)),
                KEPT_KEY, GgufValue.ofArray(GgufArray.ofFloat32s(kept)));
    }
}
