package dev.winnow.tensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * The Q4_K and Q6_K encoders against the definitions of the formats: given the scales and mins they stored
 * (read back with the test's own decoder), every value is quantized to the nearest level, so it is within half
 * a step of its decoded value or, outside the levels' range, as close as the range allows; and on Gaussian
 * data the overall error is that of 4- and 6-bit quantization. (Byte identity with ggml's own encoder was checked
 * outside the test suite, against ggml's library; see docs/models.md.)
 */
class KQuantizeTest {

    /** Super-blocks of Gaussian values at scales 2^-20 .. 2^11, some with an offset, some sparse, some all zero. */
    private static float[] randomSuperBlocks(int blocks, Random r) {
        float[] x = new float[256 * blocks];
        for (int b = 0; b < blocks; b++) {
            int kind = r.nextInt(6);
            double scale = Math.scalb(1.0, r.nextInt(-20, 12));
            double offset = kind == 1 ? 3 * scale : 0;
            for (int i = 0; i < 256; i++) {
                boolean zero = kind == 0 || (kind == 2 && r.nextInt(4) != 0);
                x[256 * b + i] = zero ? 0f : (float) (r.nextGaussian() * scale + offset);
            }
        }
        return x;
    }

    private static MemorySegment encode(GgmlType type, float[] x) {
        MemorySegment out = MemorySegment.ofArray(new byte[(int) type.rowBytes(x.length)]);
        assertEquals(out.byteSize(), Quantize.quantize(type, x, 0, x.length, out, 0));
        return out;
    }

    /**
     * Q4_K: with step s = d * sc and min m = dmin * mn of its sub-block (s > 0), a value x is decoded as s * q - m
     * with q in 0..15 the level nearest (x + m) / s: |x - decoded| is at most s / 2 plus the distance from x to
     * [-m, 15s - m]. Float rounding in the encoder adds a few units of 2^-24 of the magnitudes.
     */
    @Property(tries = 60)
    void q4_KValuesAreAtTheNearestLevel(@ForAll @IntRange(min = 1, max = 6) int blocks, @ForAll long seed) {
        float[] x = randomSuperBlocks(blocks, new Random(seed));
        MemorySegment q = encode(GgmlType.Q4_K, x);
        double[] decoded = QuantizedFormatReference.decodeRow(GgmlType.Q4_K, q, 0, x.length);
        for (int b = 0; b < blocks; b++) {
            for (int j = 0; j < 8; j++) {
                double[] scaleAndMin = QuantizedFormatReference.subBlockScaleAndMin(q, 144L * b, j);
                double step = scaleAndMin[0];
                double min = scaleAndMin[1];
                if (step == 0) {
                    continue;
                }
                for (int l = 0; l < 32; l++) {
                    int i = 256 * b + 32 * j + l;
                    double outside = Math.max(0, Math.max(-min - x[i], x[i] - (15 * step - min)));
                    double slack = 0x1p-20 * (Math.abs(x[i]) + min + 15 * step);
                    double error = Math.abs(x[i] - decoded[i]);
                    assertTrue(error <= step / 2 + outside + slack, () -> "value %d: %s decoded as %s, step %s, min %s (seed %d)"
                            .formatted(i, x[i], decoded[i], step, min, seed));
                }
            }
        }
    }

    /** Q6_K: the same with step s = d * scale of the value's group of 16 and levels -32..31 (decoded s * q). */
    @Property(tries = 60)
    void q6_KValuesAreAtTheNearestLevel(@ForAll @IntRange(min = 1, max = 6) int blocks, @ForAll long seed) {
        float[] x = randomSuperBlocks(blocks, new Random(seed));
        MemorySegment q = encode(GgmlType.Q6_K, x);
        double[] decoded = QuantizedFormatReference.decodeRow(GgmlType.Q6_K, q, 0, x.length);
        for (int b = 0; b < blocks; b++) {
            for (int g = 0; g < 16; g++) {
                double step = QuantizedFormatReference.q6GroupScale(q, 210L * b, g);
                if (step == 0) {
                    continue;
                }
                double low = Math.min(-32 * step, 31 * step);
                double high = Math.max(-32 * step, 31 * step);
                for (int l = 0; l < 16; l++) {
                    int i = 256 * b + 16 * g + l;
                    double outside = Math.max(0, Math.max(low - x[i], x[i] - high));
                    double slack = 0x1p-20 * (Math.abs(x[i]) + 32 * Math.abs(step));
                    double error = Math.abs(x[i] - decoded[i]);
                    assertTrue(error <= Math.abs(step) / 2 + outside + slack, () -> "value %d: %s decoded as %s, step %s (seed %d)"
                            .formatted(i, x[i], decoded[i], step, seed));
                }
            }
        }
    }

    /**
     * On Gaussian super-blocks the root-mean-square error is a small fraction of the values' own: 4 bits with a
     * fitted min cover a sub-block's range in 15 steps (about a tenth of sigma rms), 6 bits in 63 (about a fiftieth).
     */
    @Property(tries = 30)
    void gaussianDataKeepsItsShape(@ForAll @IntRange(min = 1, max = 4) int blocks, @ForAll long seed) {
        Random r = new Random(seed);
        float[] x = new float[256 * blocks];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        for (GgmlType type : new GgmlType[] {GgmlType.Q4_K, GgmlType.Q6_K}) {
            double[] decoded = QuantizedFormatReference.decodeRow(type, encode(type, x), 0, x.length);
            double squaredError = 0;
            double squared = 0;
            for (int i = 0; i < x.length; i++) {
                squaredError += (x[i] - decoded[i]) * (x[i] - decoded[i]);
                squared += (double) x[i] * x[i];
            }
            double relative = Math.sqrt(squaredError / squared);
            double bound = type == GgmlType.Q4_K ? 0.12 : 0.03;
            assertTrue(relative <= bound, () -> "%s relative rms error %s > %s (seed %d)".formatted(type, relative, bound, seed));
        }
    }

    @Example
    void zeroBlocksStayZero() {
        for (GgmlType type : new GgmlType[] {GgmlType.Q4_K, GgmlType.Q6_K}) {
            double[] decoded = QuantizedFormatReference.decodeRow(type, encode(type, new float[512]), 0, 512);
            for (double v : decoded) {
                assertTrue(v == 0, type + " decoded " + v);
            }
        }
    }

    /** ggml's nearest_int: ties to even, like rint, within its range. */
    @Example
    void nearestIntRoundsHalvesToEven() {
        float[] values = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4999998f, 7.5f, -7.5f, 4194303f, -4194303f, 0f, -0f};
        for (float v : values) {
            assertEquals((int) Math.rint(v), KQuantize.nearestInt(v), "nearestInt(" + v + ")");
        }
    }

    @Example
    void badLengthsAreRefused() {
        MemorySegment out = MemorySegment.ofArray(new byte[400]);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> KQuantize.quantizeQ4_K(new float[300], 0, 300, out, 0));
        assertTrue(e.getMessage().contains("whole number"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> KQuantize.quantizeQ6_K(new float[512], 0, 512, out, 0));
        assertTrue(e.getMessage().contains("destination"), e.getMessage());
    }
}
