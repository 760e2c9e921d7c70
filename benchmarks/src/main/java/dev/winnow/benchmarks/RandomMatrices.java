package dev.winnow.benchmarks;

import dev.winnow.tensors.FloatTensor;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tensors.Quantize;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/** Random weights and activations for the benchmarks, encoded with Winnow's own quantizers. */
final class RandomMatrices {
    private RandomMatrices() {
    }

    /**
     * A {@code rows x cols} tensor of the given type in off-heap memory (as a mapped model file's would be),
     * with normal(0, 0.02) weights like a real model's.
     */
    static FloatTensor matrix(GgmlType type, int rows, int cols, Arena arena, SplittableRandom random) {
        MemorySegment data = arena.allocate(type.rowBytes(cols) * rows, 64);
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                row[c] = (float) (random.nextGaussian() * 0.02);
            }
            Quantize.quantize(type, row, 0, cols, data, r * type.rowBytes(cols));
        }
        return FloatTensor.of(type, data, rows, cols);
    }

    /** Activations of order 1, like a normalized residual stream. */
    static float[] vector(int n, SplittableRandom random) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextGaussian();
        }
        return x;
    }
}
