package dev.winnow.tensors;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A read-only 2-D matrix of {@code rows x cols} values stored in one of ggml's formats inside a
 * {@link MemorySegment} (usually a slice of a memory-mapped model file): no copy is made.
 * Row {@code r} holds ggml's {@code ne[0] = cols} contiguous values; rows follow each other.
 * One subclass per storage type does the dequantization and the dot products for that type.
 *
 * <p>Each subclass has its own loops rather than sharing a template with per-format hooks: the JIT
 * compiles a shared loop once, and as soon as two formats are in use (Q8_0 next to Q4_0, say) every
 * chunk goes through a type switch; measured, that halved Q4_0's speed.
 *
 * <p>The kernels read the segment with the Vector API, which accepts native segments (such as a
 * memory-mapped file's) and heap segments backed by a {@code byte[]}. {@link #matVec} reads it from the
 * pool's worker threads, so the segment must not be confined to one thread.
 */
public abstract class FloatTensor {
    protected final MemorySegment data;
    protected final int rows;
    protected final int cols;
    protected final long rowBytes;

    protected FloatTensor(GgmlType type, MemorySegment data, int rows, int cols) {
        Objects.requireNonNull(data, "data");
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("%s tensor shape %d x %d is negative".formatted(type, rows, cols));
        }
        this.data = data;
        this.rows = rows;
        this.cols = cols;
        this.rowBytes = type.rowBytes(cols);
        long needed = rowBytes * rows;
        if (data.byteSize() < needed) {
            throw new IllegalArgumentException("%s tensor of %d x %d needs %d bytes, the segment has %d"
                    .formatted(type, rows, cols, needed, data.byteSize()));
        }
    }

    /**
     * Wraps {@code data} as a tensor of the given type.
     *
     * @throws IllegalArgumentException if Winnow has no kernels for the type, or the shape does not fit
     */
    public static FloatTensor of(GgmlType type, MemorySegment data, int rows, int cols) {
        return switch (type) {
            case F32 -> new F32Tensor(data, rows, cols);
            case F16 -> new F16Tensor(data, rows, cols);
            case BF16 -> new BF16Tensor(data, rows, cols);
            case Q8_0 -> new Q8_0Tensor(data, rows, cols);
            case Q4_0 -> new Q4_0Tensor(data, rows, cols);
            case Q4_1 -> new Q4_1Tensor(data, rows, cols);
            case Q5_0 -> new Q5_0Tensor(data, rows, cols);
            case Q5_1 -> new Q5_1Tensor(data, rows, cols);
            case Q4_K -> new Q4_KTensor(data, rows, cols);
            case Q5_K -> new Q5_KTensor(data, rows, cols);
            case Q6_K -> new Q6_KTensor(data, rows, cols);
            default -> throw new IllegalArgumentException("tensor type " + type + " is not supported for computation");
        };
    }

    public abstract GgmlType type();

    public final int rows() {
        return rows;
    }

    public final int cols() {
        return cols;
    }

    /** The raw bytes of this tensor. */
    public final MemorySegment segment() {
        return data;
    }

    /** dot(row {@code row}, x[xOffset .. xOffset + cols)). */
    public abstract float dotRow(int row, float[] x, int xOffset);

    /** Writes the {@code cols} values of row {@code row} to out[outOffset ..]. */
    public abstract void dequantizeRow(int row, float[] out, int outOffset);

    /** out[r] = dot(row r, x) for every row, rows split across the pool's workers. */
    public void matVec(float[] x, float[] out, WorkerPool pool) {
        matVec(x, 0, out, 0, pool);
    }

    /**
     * out[outOffset + r] = dot(row r, x[xOffset .. xOffset + cols)) for every row, rows split across the
     * pool's workers in contiguous ranges.
     */
    public void matVec(float[] x, int xOffset, float[] out, int outOffset, WorkerPool pool) {
        checkVector("input", x, xOffset, cols);
        checkVector("output", out, outOffset, rows);
        WorkerPool.RangeTask rowDots = (start, end) -> {
            for (int r = start; r < end; r++) {
                out[outOffset + r] = dotRow(r, x, xOffset);
            }
        };
        runRows(rowDots, 1, pool);
    }

    /**
     * Matrix times a block of vectors: for each of the {@code batch} rows b of {@code x} ({@code cols} floats
     * each, one after the other), out[b * rows + r] = dot(row r, x[b]). Each worker takes a range of weight rows
     * and, row by row, uses it against every vector while it is in cache, so a block of prompt tokens reads the
     * weights once instead of once per token.
     */
    public void matMul(float[] x, float[] out, int batch, WorkerPool pool) {
        if (batch == 1) {
            matVec(x, 0, out, 0, pool);
            return;
        }
        checkVector("input", x, 0, batch * cols);
        checkVector("output", out, 0, batch * rows);
        WorkerPool.RangeTask rowDots = (start, end) -> {
            for (int r = start; r < end; r++) {
                for (int b = 0; b < batch; b++) {
                    out[b * rows + r] = dotRow(r, x, b * cols);
                }
            }
        };
        runRows(rowDots, batch, pool);
    }

    /** Below this many multiply-adds, handing rows to other threads costs more than it saves. */
    private static final long PARALLEL_WORK_THRESHOLD = 1 << 15;

    private void runRows(WorkerPool.RangeTask task, int batch, WorkerPool pool) {
        if ((long) rows * cols * batch < PARALLEL_WORK_THRESHOLD) {
            task.run(0, rows);
        } else {
            pool.parallelFor(rows, task);
        }
    }

    /**
     * The byte offset of row {@code row} in {@link #data}, after checking that the row exists and that
     * {@code vector} holds {@code cols} values from {@code offset}: the kernels' one guard against bad input.
     */
    final long rowStart(int row, float[] vector, int offset) {
        if (row < 0 || row >= rows) {
            throw new IllegalArgumentException("row %d is outside this %d x %d %s tensor".formatted(row, rows, cols, type()));
        }
        checkVector("row", vector, offset, cols);
        return row * rowBytes;
    }

    private void checkVector(String what, float[] vector, int offset, int length) {
        if (offset < 0 || offset > vector.length - length) {
            throw new IllegalArgumentException("%s vector of %d floats has no room for %d values at offset %d (%d x %d %s tensor)"
                    .formatted(what, vector.length, length, offset, rows, cols, type()));
        }
    }
}
