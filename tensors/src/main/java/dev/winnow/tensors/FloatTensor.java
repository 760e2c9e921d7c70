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
     * pool's workers in contiguous pieces.
     */
    public void matVec(float[] x, int xOffset, float[] out, int outOffset, WorkerPool pool) {
        checkVector("input", x, xOffset, cols);
        checkVector("output", out, outOffset, rows);
        prepareProducts(pool);
        WorkerPool.RangeTask rowDots = (start, end) -> {
            for (int r = start; r < end; r++) {
                out[outOffset + r] = productDot(r, x, xOffset);
            }
        };
        runParts(rowDots, rows, 1, pool);
    }

    /**
     * One {@link #matVec} per vector of a block: out[b * rows + r] = dot(row r, x[b]), each output exactly (to
     * the bit) what matVec gives for that vector alone, while each weight row is read once for all of them. A
     * server's decode step over several sequences uses it, so a sequence's tokens do not depend on what else is
     * in the batch; {@link #matMul} is faster for prompt blocks but sums in another order.
     */
    public void matVecs(float[] x, float[] out, int batch, WorkerPool pool) {
        checkVector("input", x, 0, batch * cols);
        checkVector("output", out, 0, batch * rows);
        prepareProducts(pool);
        WorkerPool.RangeTask rowDots = (start, end) -> {
            for (int r = start; r < end; r++) {
                for (int b = 0; b < batch; b++) {
                    out[b * rows + r] = productDot(r, x, b * cols);
                }
            }
        };
        runParts(rowDots, rows, batch, pool);
    }

    /**
     * Matrix times a block of vectors: for each of the {@code batch} rows b of {@code x} ({@code cols} floats
     * each, one after the other), out[b * rows + r] = dot(row r, x[b]). Workers take tiles of
     * {@link FloatGemm#ROWS} weight rows; a tile's rows are dequantized once into the worker's float buffer and
     * then multiplied with the tokens {@link FloatGemm#TOKENS} at a time, so a block of prompt tokens reads and
     * decodes the weights once instead of once per token.
     */
    public void matMul(float[] x, float[] out, int batch, WorkerPool pool) {
        if (batch == 1) {
            matVec(x, 0, out, 0, pool);
            return;
        }
        if (batch < 0 || (long) batch * Math.max(rows, cols) > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a block of %d vectors does not fit a %d x %d %s product"
                    .formatted(batch, rows, cols, type()));
        }
        checkVector("input", x, 0, batch * cols);
        checkVector("output", out, 0, batch * rows);
        prepareProducts(pool);
        int tiles = (rows + FloatGemm.ROWS - 1) / FloatGemm.ROWS;
        WorkerPool.RangeTask tileProducts = (firstTile, endTile) -> {
            float[] weights = ThreadScratch.floats(FloatGemm.ROWS * cols);
            for (int tile = firstTile; tile < endTile; tile++) {
                int firstRow = tile * FloatGemm.ROWS;
                int rowCount = Math.min(FloatGemm.ROWS, rows - firstRow);
                for (int i = 0; i < rowCount; i++) {
                    productRow(firstRow + i, weights, i * cols);
                }
                for (int t = 0; t < batch; t += FloatGemm.TOKENS) {
                    FloatGemm.tile(weights, rowCount, x, t, Math.min(FloatGemm.TOKENS, batch - t), cols, out, rows, firstRow);
                }
            }
        };
        runParts(tileProducts, tiles, batch, pool);
    }

    /**
     * Called before each product; a type whose products read a rearranged copy of the weights makes it here on
     * first use. The products assume that the tensor's bytes do not change after that: weights never do.
     */
    void prepareProducts(WorkerPool pool) {
    }

    /** dot(row, x[xOffset ..]) for {@link #matVec}, after {@link #prepareProducts} and with x already checked. */
    float productDot(int row, float[] x, int xOffset) {
        return dotRow(row, x, xOffset);
    }

    /** {@link #dequantizeRow} for {@link #matMul}, after {@link #prepareProducts}. */
    void productRow(int row, float[] out, int outOffset) {
        dequantizeRow(row, out, outOffset);
    }

    /**
     * Once products read a packed copy, the original bytes are read only for single rows (an embedding lookup):
     * a memory-mapped file's pages are handed back to the OS so that the weights are not held twice. Nothing is
     * lost: a page read again is mapped again from the file.
     */
    final void releaseMappedPages() {
        if (data.isMapped()) {
            data.unload();
        }
    }

    /** Below this many multiply-adds, handing rows to other threads costs more than it saves. */
    private static final long PARALLEL_WORK_THRESHOLD = 1 << 15;

    /**
     * Pieces per thread a product is cut into: enough that a thread slowed by other programs on its core
     * hands most of its share to the others, few enough that claiming them costs nothing measurable.
     */
    private static final int PIECES_PER_THREAD = 8;

    /** Runs task over [0, parts): inline for a small product of {@code batch} vectors, else across the pool. */
    private void runParts(WorkerPool.RangeTask task, int parts, int batch, WorkerPool pool) {
        if ((long) rows * cols * batch < PARALLEL_WORK_THRESHOLD) {
            task.run(0, parts);
        } else {
            pool.parallelForPieces(parts, Math.max(1, parts / (pool.threads() * PIECES_PER_THREAD)), task);
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
