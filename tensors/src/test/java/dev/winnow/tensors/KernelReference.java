package dev.winnow.tensors;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

/**
 * Test-side scalar decoding of ggml's layouts, written from the format descriptions and independent of
 * the kernels, plus random tensors and the checks the property tests (and the narrow-vector child JVMs)
 * run. Everything is computed in double.
 */
final class KernelReference {
    static final GgmlType[] TYPES = {GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0,
            GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K};

    private KernelReference() {
    }

    /** An IEEE half from its bit fields: (-1)^s * 2^(e-15) * 1.m, or 2^-14 * 0.m for e = 0. */
    static double half(int bits) {
        int sign = (bits >> 15) & 1;
        int exponent = (bits >> 10) & 0x1F;
        int mantissa = bits & 0x3FF;
        double magnitude;
        if (exponent == 0x1F) {
            magnitude = mantissa == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        } else if (exponent == 0) {
            magnitude = Math.scalb((double) mantissa, -24);
        } else {
            magnitude = Math.scalb(1024.0 + mantissa, exponent - 25);
        }
        return sign == 1 ? -magnitude : magnitude;
    }

    static int u8(MemorySegment s, long at) {
        return s.get(ValueLayout.JAVA_BYTE, at) & 0xFF;
    }

    static int u16(MemorySegment s, long at) {
        return u8(s, at) | u8(s, at + 1) << 8;
    }

    /** The values of one row, decoded byte by byte (little-endian). */
    static double[] decodeRow(GgmlType type, MemorySegment s, int row, int cols) {
        long at = row * type.rowBytes(cols);
        double[] v = new double[cols];
        switch (type) {
            case F32 -> {
                for (int i = 0; i < cols; i++) {
                    long a = at + 4L * i;
                    v[i] = Float.intBitsToFloat(u16(s, a) | u16(s, a + 2) << 16);
                }
            }
            case F16 -> {
                for (int i = 0; i < cols; i++) {
                    v[i] = half(u16(s, at + 2L * i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < cols; i++) {
                    v[i] = Float.intBitsToFloat(u16(s, at + 2L * i) << 16);
                }
            }
            case Q8_0 -> {
                for (int b = 0; b < cols / 32; b++) {
                    long block = at + 34L * b;
                    double d = half(u16(s, block));
                    for (int j = 0; j < 32; j++) {
                        v[32 * b + j] = d * (byte) u8(s, block + 2 + j);
                    }
                }
            }
            case Q4_0 -> {
                for (int b = 0; b < cols / 32; b++) {
                    long block = at + 18L * b;
                    double d = half(u16(s, block));
                    for (int j = 0; j < 16; j++) {
                        int packed = u8(s, block + 2 + j);
                        v[32 * b + j] = d * ((packed & 0xF) - 8);
                        v[32 * b + 16 + j] = d * ((packed >> 4) - 8);
                    }
                }
            }
            default -> {
                return QuantizedFormatReference.decodeRow(type, s, at, cols);
            }
        }
        return v;
    }

    /**
     * Random raw bytes for a rows x cols tensor: floats over a wide range of exponents, halves and
     * bfloat16s with every finite exponent (subnormals included), quantized blocks with random scales
     * (either sign) and random quants.
     */
    static MemorySegment randomTensor(GgmlType type, int rows, int cols, Random r) {
        long bytes = type.rowBytes(cols) * rows;
        MemorySegment s = MemorySegment.ofArray(new byte[Math.toIntExact(bytes)]);
        switch (type) {
            case F32 -> {
                for (long at = 0; at < bytes; at += 4) {
                    s.set(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), at,
                            (float) (r.nextGaussian() * Math.scalb(1.0, r.nextInt(-12, 12))));
                }
            }
            case F16 -> {
                for (long at = 0; at < bytes; at += 2) {
                    putU16(s, at, randomFiniteHalf(r));
                }
            }
            case BF16 -> {
                for (long at = 0; at < bytes; at += 2) {
                    int exponent = r.nextInt(16) == 0 ? 0 : r.nextInt(127 - 24, 127 + 24);
                    putU16(s, at, r.nextInt(2) << 15 | exponent << 7 | r.nextInt(128));
                }
            }
            case Q8_0, Q4_0 -> {
                int blockBytes = type.blockBytes();
                for (long block = 0; block < bytes; block += blockBytes) {
                    putU16(s, block, randomFiniteHalf(r));
                    for (int j = 2; j < blockBytes; j++) {
                        s.set(ValueLayout.JAVA_BYTE, block + j, (byte) r.nextInt(256));
                    }
                }
            }
            default -> {
                // Random bytes, then every fp16 field (scales, mins) made a random finite half.
                for (long at = 0; at < bytes; at++) {
                    s.set(ValueLayout.JAVA_BYTE, at, (byte) r.nextInt(256));
                }
                for (long block = 0; block < bytes; block += type.blockBytes()) {
                    for (int field : halfFields(type)) {
                        putU16(s, block + field, randomFiniteHalf(r));
                    }
                }
            }
        }
        return s;
    }

    /** Byte offsets of the fp16 fields in a block of each quantized type. */
    private static int[] halfFields(GgmlType type) {
        return switch (type) {
            case Q4_1, Q5_1, Q4_K, Q5_K -> new int[] {0, 2};
            case Q5_0 -> new int[] {0};
            case Q6_K -> new int[] {208};
            default -> throw new IllegalArgumentException(type.toString());
        };
    }

    private static int randomFiniteHalf(Random r) {
        int exponent = r.nextInt(16) == 0 ? 0 : r.nextInt(1, 31);
        return r.nextInt(2) << 15 | exponent << 10 | r.nextInt(1024);
    }

    private static void putU16(MemorySegment s, long at, int value) {
        s.set(ValueLayout.JAVA_BYTE, at, (byte) value);
        s.set(ValueLayout.JAVA_BYTE, at + 1, (byte) (value >> 8));
    }

    static float[] randomVector(int n, Random r) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    /**
     * dequantizeRow gives exactly the float nearest each decoded value (which, being d * q with d a half
     * and q small, or a plain half/bfloat16/float, is itself exact in double), placed at outOffset with the
     * values around it untouched.
     */
    static void checkDequantize(GgmlType type, int rows, int cols, int outOffset, long seed) {
        Random r = new Random(seed);
        MemorySegment s = randomTensor(type, rows, cols, r);
        FloatTensor t = FloatTensor.of(type, s, rows, cols);
        float[] out = new float[outOffset + cols + 3];
        for (int row = 0; row < rows; row++) {
            java.util.Arrays.fill(out, -7f);
            t.dequantizeRow(row, out, outOffset);
            double[] expected = decodeRow(type, s, row, cols);
            for (int i = 0; i < cols; i++) {
                if (Float.floatToIntBits(out[outOffset + i]) != Float.floatToIntBits((float) expected[i])) {
                    throw new AssertionError("%s %dx%d row %d value %d: got %s, expected %s (seed %d)"
                            .formatted(type, rows, cols, row, i, out[outOffset + i], (float) expected[i], seed));
                }
            }
            for (int i = 0; i < outOffset; i++) {
                check(out[i] == -7f, "dequantizeRow wrote before its offset", type, rows, cols, seed);
            }
            for (int i = outOffset + cols; i < out.length; i++) {
                check(out[i] == -7f, "dequantizeRow wrote past its row", type, rows, cols, seed);
            }
        }
    }

    /**
     * dotRow is within (cols + 4) * 2^-23 * sum|w_i x_i| of the exact dot product: twice the classic
     * bound for float summation of cols products in any order (n units of 2^-24), plus the one scaling
     * multiply of the quantized types. A wrong, missing or doubled element would be off by about one
     * whole product, far above this.
     */
    static void checkDot(GgmlType type, int rows, int cols, int xOffset, long seed) {
        Random r = new Random(seed);
        MemorySegment s = randomTensor(type, rows, cols, r);
        FloatTensor t = FloatTensor.of(type, s, rows, cols);
        float[] x = new float[xOffset + cols + 2];
        float[] values = randomVector(cols, r);
        System.arraycopy(values, 0, x, xOffset, cols);
        x[x.length - 1] = Float.NaN; // would poison the result if read
        for (int row = 0; row < rows; row++) {
            double[] w = decodeRow(type, s, row, cols);
            double exact = 0;
            double magnitude = 0;
            for (int i = 0; i < cols; i++) {
                exact += w[i] * values[i];
                magnitude += Math.abs(w[i] * values[i]);
            }
            float got = t.dotRow(row, x, xOffset);
            double tolerance = (cols + 4) * Math.scalb(1.0, -23) * magnitude;
            if (!(Math.abs(got - exact) <= tolerance)) {
                throw new AssertionError("%s %dx%d row %d: dot %s, exact %s, tolerance %s (seed %d)"
                        .formatted(type, rows, cols, row, got, exact, tolerance, seed));
            }
        }
    }

    /**
     * The products: {@link FloatTensor#matMul} of {@code batch} random vectors (which for one vector is
     * {@link FloatTensor#matVec}) gives every out[b * rows + r] within the {@link #checkDot} bound of the exact
     * dot product of row r and vector b, on a pool of {@code threads}; a second product on the same tensor
     * (which reuses whatever the first one prepared) gives the same numbers; and every output is, to the bit, what
     * matVec of that vector alone gives on one thread, and what dotRow gives: the products do not depend on the
     * threads or the rest of the batch.
     */
    static void checkProducts(GgmlType type, int rows, int cols, int batch, int threads, long seed) {
        Random r = new Random(seed);
        MemorySegment s = randomTensor(type, rows, cols, r);
        FloatTensor t = FloatTensor.of(type, s, rows, cols);
        float[] x = randomVector(batch * cols, r);
        float[] out = new float[batch * rows];
        float[] again = new float[batch * rows];
        float[] alone = new float[batch * rows];
        try (WorkerPool pool = new WorkerPool(threads); WorkerPool single = new WorkerPool(1)) {
            t.matMul(x, out, batch, pool);
            t.matMul(x, again, batch, pool);
            for (int b = 0; b < batch; b++) {
                t.matVec(x, b * cols, alone, b * rows, single);
            }
        }
        for (int row = 0; row < rows; row++) {
            double[] w = decodeRow(type, s, row, cols);
            for (int b = 0; b < batch; b++) {
                double exact = 0;
                double magnitude = 0;
                for (int i = 0; i < cols; i++) {
                    exact += w[i] * x[b * cols + i];
                    magnitude += Math.abs(w[i] * x[b * cols + i]);
                }
                float got = out[b * rows + row];
                double tolerance = (cols + 4) * Math.scalb(1.0, -23) * magnitude;
                if (!(Math.abs(got - exact) <= tolerance)) {
                    throw new AssertionError("%s %dx%d times %d vectors, row %d vector %d: %s, exact %s, tolerance %s (seed %d)"
                            .formatted(type, rows, cols, batch, row, b, got, exact, tolerance, seed));
                }
                check(Float.floatToIntBits(again[b * rows + row]) == Float.floatToIntBits(got),
                        "a second product differs from the first", type, rows, cols, seed);
                check(Float.floatToIntBits(alone[b * rows + row]) == Float.floatToIntBits(got),
                        "row %d of vector %d of %d on %d threads differs from the vector's product alone".formatted(row, b, batch, threads),
                        type, rows, cols, seed);
                check(Float.floatToIntBits(t.dotRow(row, x, b * cols)) == Float.floatToIntBits(got),
                        "dotRow of row %d, vector %d differs from the product".formatted(row, b), type, rows, cols, seed);
            }
        }
    }

    /** A random shape valid for the type: rows 1..40, cols a whole number of blocks up to 1024 (any count for plain types). */
    static int randomCols(GgmlType type, Random r) {
        return type.blockSize() == 1 ? r.nextInt(1, 1025) : type.blockSize() * r.nextInt(1, 1024 / type.blockSize() + 1);
    }

    private static void check(boolean condition, String what, GgmlType type, int rows, int cols, long seed) {
        if (!condition) {
            throw new AssertionError("%s (%s %dx%d, seed %d)".formatted(what, type, rows, cols, seed));
        }
    }
}
