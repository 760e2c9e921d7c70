package dev.winnow.tensors;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

import jdk.incubator.vector.FloatVector;

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

    /**
     * dot(row {@code row}, x[xOffset .. xOffset + cols)) of the tensor's bytes as they are now, in the products'
     * order ({@link FloatGemm#dot} over the values {@link #dequantizeRow} gives): the row dequantized into a
     * scratch buffer, then the dot product. The plain float types compute the same sum in registers.
     */
    public float dotRow(int row, float[] x, int xOffset) {
        rowStart(row, x, xOffset);
        float[] values = ThreadScratch.floats(cols);
        dequantizeRow(row, values, 0);
        return FloatGemm.dot(values, 0, x, xOffset, cols);
    }

    /**
     * Writes the {@code cols} values of row {@code row}, as the tensor's bytes hold them now, to out[outOffset ..].
     * Unlike the products, this reads the bytes themselves, so it serves tensors that are rewritten (KV pages).
     */
    public abstract void dequantizeRow(int row, float[] out, int outOffset);

    /** out[r] = dot(row r, x) for every row, rows split across the pool's workers. */
    public void matVec(float[] x, float[] out, WorkerPool pool) {
        matVec(x, 0, out, 0, pool);
    }

    /**
     * out[outOffset + r] = dot(row r, x[xOffset .. xOffset + cols)) for every row, rows split across the
     * pool's workers in contiguous pieces. Each piece is read as {@link #STREAMS} streams at once, from places
     * a quarter of the piece apart. Every row's sum is formed in one order (see {@link #matMul}), whatever the
     * threads, the pieces or the batch.
     */
    public void matVec(float[] x, int xOffset, float[] out, int outOffset, WorkerPool pool) {
        checkVector("input", x, xOffset, cols);
        checkVector("output", out, outOffset, rows);
        prepareProducts(pool);
        RowDots rowDots = ROW_DOTS.get();
        rowDots.setOne(this, x, xOffset, out, outOffset);
        try {
            runParts(rowDots, rows, (long) rows * cols, pool);
        } finally {
            rowDots.clear();
        }
    }

    /**
     * The pieces of matrix-vector products, one reused object per calling thread: a capturing lambda would be a new
     * object per product wherever the compiler does not inline the pool's hand-off, and a decode step makes hundreds
     * of products. Safe to reuse: the caller waits for every piece, and a pool refuses nested loops. Its parts are
     * the rows of its matrices, one matrix after the other.
     */
    private static final ThreadLocal<RowDots> ROW_DOTS = ThreadLocal.withInitial(RowDots::new);

    /** The calling thread's aligned copy of a block's input (matMuls); apart from the workers' {@link ThreadScratch}. */
    private static final ThreadLocal<float[]> ALIGNED_INPUT = ThreadLocal.withInitial(() -> new float[0]);

    private static final class RowDots implements WorkerPool.RangeTask {
        private final FloatTensor[] one = new FloatTensor[1];
        private final float[][] oneOut = new float[1][];
        private FloatTensor[] tensors;
        private float[][] outs;
        private float[] x;
        private int xOffset;
        private int outOffset;

        void set(FloatTensor[] tensors, float[] x, int xOffset, float[][] outs, int outOffset) {
            this.tensors = tensors;
            this.x = x;
            this.xOffset = xOffset;
            this.outs = outs;
            this.outOffset = outOffset;
        }

        void setOne(FloatTensor tensor, float[] x, int xOffset, float[] out, int outOffset) {
            one[0] = tensor;
            oneOut[0] = out;
            set(one, x, xOffset, oneOut, outOffset);
        }

        void clear() {
            one[0] = null;
            oneOut[0] = null;
            set(null, null, 0, null, 0);
        }

        @Override
        public void run(int start, int end) {
            int first = 0;
            for (int m = 0; m < tensors.length && first < end; m++) {
                FloatTensor t = tensors[m];
                int from = Math.max(start, first);
                int to = Math.min(end, first + t.rows);
                if (from < to) {
                    t.rowDots(from - first, to - first, x, xOffset, outs[m], outOffset);
                }
                first += t.rows;
            }
        }
    }

    /** Rows [start, end) of {@link #matVec}, read as {@link #STREAMS} streams a quarter of the range apart. */
    private void rowDots(int start, int end, float[] x, int xOffset, float[] out, int outOffset) {
        int stride = (end - start) / STREAMS;
        for (int r = start; r < start + stride; r++) {
            productDots(r, stride, x, xOffset, out, outOffset);
        }
        for (int r = start + STREAMS * stride; r < end; r++) {
            out[outOffset + r] = productDot(r, x, xOffset);
        }
    }

    /**
     * Matrix times a block of vectors: for each of the {@code batch} rows b of {@code x} ({@code cols} floats
     * each, one after the other), out[b * rows + r] = dot(row r, x[b]). Workers take tiles of
     * {@link FloatGemm#ROWS} weight rows; a tile's rows are dequantized once into the worker's float buffer and
     * then multiplied with the vectors {@link FloatGemm#TOKENS} at a time ({@link FloatGemm#multiply}), so a block
     * reads and decodes the weights once instead of once per vector. A small block (2 to {@link #GROUPED_BLOCK}
     * vectors: a server's decode step, a short prompt) on a {@link RowGroupKernel} type instead takes three rows at
     * a time, decoded in registers for up to 8 of its vectors at once; a single vector is {@link #matVec}.
     *
     * <p>Every output is exactly (to the bit) what {@link #matVec} gives for that vector alone: all products
     * form a row's sum in one order ({@link FloatGemm#dot}: each vector's worth of the row dequantized to floats,
     * multiplied and added into one running vector, its lanes added in a fixed order, then the values that fill
     * no vector). So a prompt block gives the logits of its tokens fed one by one, and a server's batch of
     * sequences gives each sequence the logits it would get alone.
     */
    public void matMul(float[] x, float[] out, int batch, WorkerPool pool) {
        if (batch == 1) {
            matVec(x, out, pool);
        } else {
            matMuls(x, batch, new FloatTensor[] {this}, new float[][] {out}, pool);
        }
    }

    /**
     * {@link #matMul} of several matrices with one input block (a layer's query, key and value projections; its
     * gate and up projections), outs[m] = tensors[m] times x, in one hand-off to the pool: the matrices' parts are
     * cut into pieces together, so the threads meet once at the end instead of once per matrix (a decode step of a
     * 1B model makes over a hundred products). Every output is the matrix's own matMul's, to the bit.
     */
    public static void matMuls(float[] x, int batch, FloatTensor[] tensors, float[][] outs, WorkerPool pool) {
        if (tensors.length != outs.length) {
            throw new IllegalArgumentException("%d matrices but %d outputs".formatted(tensors.length, outs.length));
        }
        long work = 0;
        for (int m = 0; m < tensors.length; m++) {
            tensors[m].checkBlock(x, outs[m], batch);
            tensors[m].prepareProducts(pool);
            work += (long) tensors[m].rows * tensors[m].cols * batch;
        }
        if (batch == 1) {
            // A decode step's products: the reused row pieces of matVec, allocating nothing.
            int rows = 0;
            for (FloatTensor t : tensors) {
                rows = Math.addExact(rows, t.rows);
            }
            RowDots rowDots = ROW_DOTS.get();
            rowDots.set(tensors, x, 0, outs, 0);
            try {
                runParts(rowDots, rows, work, pool);
            } finally {
                rowDots.clear();
            }
            return;
        }
        // The block copied to the start of a cache line where that can be known (HeapAlignment), for the kernels'
        // vector loads of it; the caller's array starts wherever the heap put it.
        int inputAt = HeapAlignment.lineStart(0);
        float[] input = x;
        if (inputAt != 0) {
            int floats = 0;
            for (FloatTensor t : tensors) {
                floats = Math.max(floats, batch * t.cols);
            }
            input = ALIGNED_INPUT.get();
            if (input.length < inputAt + floats) {
                input = new float[Math.addExact(inputAt, floats)];
                ALIGNED_INPUT.set(input);
            }
            System.arraycopy(x, 0, input, inputAt, floats);
        }
        WorkerPool.RangeTask[] tasks = new WorkerPool.RangeTask[tensors.length];
        int[] firstParts = new int[tensors.length + 1];
        for (int m = 0; m < tensors.length; m++) {
            tasks[m] = tensors[m].productTask(input, inputAt, outs[m], batch);
            firstParts[m + 1] = Math.addExact(firstParts[m], tensors[m].productParts(batch));
        }
        int parts = firstParts[tensors.length];
        WorkerPool.RangeTask all = tasks.length == 1 ? tasks[0] : (start, end) -> {
            for (int m = 0; m < tasks.length && firstParts[m] < end; m++) {
                int from = Math.max(start, firstParts[m]);
                int to = Math.min(end, firstParts[m + 1]);
                if (from < to) {
                    tasks[m].run(from - firstParts[m], to - firstParts[m]);
                }
            }
        };
        runParts(all, parts, work, pool);
    }

    private void checkBlock(float[] x, float[] out, int batch) {
        if (batch < 0 || (long) batch * Math.max(rows, cols) > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a block of %d vectors does not fit a %d x %d %s product"
                    .formatted(batch, rows, cols, type()));
        }
        checkVector("input", x, 0, batch * cols);
        checkVector("output", out, 0, batch * rows);
    }

    /** True where {@link #productTask} takes the block three rows at a time with a {@link RowGroupKernel}. */
    private boolean inRowGroups(int batch) {
        return batch >= 2 && batch <= GROUPED_BLOCK && ROW_GROUPS_FIT && rowGroupKernel() != null;
    }

    /** The parts {@link #productTask} cuts a block of {@code batch} vectors into. */
    private int productParts(int batch) {
        if (inRowGroups(batch)) {
            return (rows + GROUP_ROWS - 1) / GROUP_ROWS;
        }
        return batch < FloatGemm.TOKENS ? rows : (rows + FloatGemm.ROWS - 1) / FloatGemm.ROWS;
    }

    /** {@link #matMul}'s work over its {@link #productParts}, after {@link #prepareProducts}. */
    private WorkerPool.RangeTask productTask(float[] x, int xAt, float[] out, int batch) {
        if (inRowGroups(batch)) {
            RowGroupKernel kernel = rowGroupKernel();
            return (firstGroup, endGroup) -> {
                float[] sums = ThreadScratch.floats(GROUP_ROWS * GROUP_TOKENS * Vectors.LANES);
                for (int group = firstGroup; group < endGroup; group++) {
                    int row = GROUP_ROWS * group;
                    if (row + GROUP_ROWS <= rows) {
                        // The block GROUP_TOKENS vectors at a time: the group's rows come from the first-level
                        // cache after the first pass over them.
                        for (int first = 0; first < batch; first += GROUP_TOKENS) {
                            int count = Math.min(GROUP_TOKENS, batch - first);
                            if (count <= GROUP_TOKENS / 2) {
                                kernel.productRowsOfFour(row, x, xAt + first * cols, count, sums);
                            } else {
                                kernel.productRows(row, x, xAt + first * cols, count, sums);
                            }
                            storeRowGroup(sums, row, first, count, out);
                        }
                    } else {
                        for (int r = row; r < rows; r++) {
                            for (int b = 0; b < batch; b++) {
                                out[b * rows + r] = productDot(r, x, xAt + b * cols);
                            }
                        }
                    }
                }
            };
        }
        if (batch < FloatGemm.TOKENS) {
            // Fewer vectors than a tile holds: dequantizing the weights first would cost more than it saves.
            return (start, end) -> {
                for (int b = 0; b < batch; b++) {
                    rowDots(start, end, x, xAt + b * cols, out, b * rows);
                }
            };
        }
        int weightFloats = FloatGemm.ROWS * cols;
        return (firstTile, endTile) -> {
            // The tile's dequantized rows, then the multiply's panel and parked running sums, each from the start
            // of a cache line where that can be known.
            float[] scratch = ThreadScratch.floats(weightFloats + FloatGemm.scratchLength(batch, cols) + 2 * HeapAlignment.slack());
            int rowsAt = HeapAlignment.lineStart(0);
            int panelAt = HeapAlignment.lineStart(rowsAt + weightFloats);
            for (int tile = firstTile; tile < endTile; tile++) {
                int firstRow = tile * FloatGemm.ROWS;
                int rowCount = Math.min(FloatGemm.ROWS, rows - firstRow);
                for (int i = 0; i < rowCount; i++) {
                    productRow(firstRow + i, scratch, rowsAt + i * cols);
                }
                FloatGemm.multiply(scratch, rowsAt, rowCount, x, xAt, batch, cols, out, rows, firstRow, scratch, panelAt);
            }
        };
    }

    /**
     * Called before each product; a type whose products read a rearranged copy of the weights makes it here on
     * first use. The products assume that the tensor's bytes do not change after that: weights never do (KV pages,
     * which do, are only read with {@link #dequantizeRow}).
     */
    void prepareProducts(WorkerPool pool) {
    }

    /**
     * dot(row, x[xOffset ..]) for {@link #matVec}, after {@link #prepareProducts} and with x already checked, in
     * the order of {@link FloatGemm#dot} over the row's values as {@link #productRow} gives them. This default
     * dequantizes the row into a scratch buffer first; the common types compute it in registers.
     */
    float productDot(int row, float[] x, int xOffset) {
        float[] values = ThreadScratch.floats(cols);
        productRow(row, values, 0);
        return FloatGemm.dot(values, 0, x, xOffset, cols);
    }

    /**
     * Rows of a matrix-vector product computed together, {@link #productDots} taking them this far apart in the
     * matrix. Measured here, one thread streams a matrix-vector product about 1.6 times faster from 4 places at
     * once than from one: the hardware prefetchers run only so far ahead of each stream, and more streams keep
     * more memory reads in flight while the core computes.
     */
    static final int STREAMS = 4;

    /**
     * out[outOffset + row + k * stride] = {@link #productDot}(row + k * stride, x, xOffset) for k below
     * {@link #STREAMS}, each to the bit. A type whose kernel interleaves the rows' blocks reads {@link #STREAMS}
     * memory streams at once; by default, one row after the other.
     */
    void productDots(int row, int stride, float[] x, int xOffset, float[] out, int outOffset) {
        for (int k = 0; k < STREAMS; k++) {
            out[outOffset + row + k * stride] = productDot(row + k * stride, x, xOffset);
        }
    }

    /**
     * Whether a {@link RowGroupKernel}'s 24 running sums and working vectors fit the vector registers: with 16 float
     * lanes (AVX-512, 32 registers) they do; with narrower vectors (AVX2 has 16 registers) they would spill, and the
     * tiled product runs instead.
     */
    private static final boolean ROW_GROUPS_FIT = Vectors.LANES >= 16;

    /** Weight rows a {@link RowGroupKernel} multiplies at once. */
    static final int GROUP_ROWS = 3;

    /**
     * The most vectors a {@link RowGroupKernel} takes: with {@link #GROUP_ROWS} rows, 24 running sums, which with
     * the 3 decoded weight vectors and a token vector fit the 32 vector registers of AVX-512.
     */
    static final int GROUP_TOKENS = 8;

    /**
     * The largest block a {@link RowGroupKernel} takes, {@link #GROUP_TOKENS} vectors at a time; larger blocks take
     * the tiled product, whose dequantized tiles pay off only over more vectors. Measured on the 135M shape (Q8_0,
     * 2 threads, prompts of 10 to 24 tokens read in one pass): 1.2-1.6x faster up to 16 vectors, slower from 24.
     */
    static final int GROUPED_BLOCK = 16;

    /**
     * A type that multiplies a small block (2 to {@link #GROUP_TOKENS} vectors at a time: a server's decode step)
     * {@link #GROUP_ROWS} rows at a time, decoding the weights in registers as its matrix-vector product does,
     * instead of dequantizing tiles into a buffer first: decoding in the loop that multiplies lets the core compute
     * while the weights stream in, and each decoded weight vector serves every vector of the block (see
     * docs/performance.md).
     */
    interface RowGroupKernel {
        /**
         * The running sums of rows row .. row + GROUP_ROWS - 1 with each of the {@code batch} vectors of x from
         * {@code xOffset}, parked
         * in {@code sums} for {@link #storeRowGroup} (row + i's for vector b at {@code (i * GROUP_TOKENS + b) *
         * LANES}), each formed as {@link #productDot} forms it, so the outputs are its to the bit. (Parked rather
         * than passed on: the JIT boxes vectors handed to a method it does not inline.)
         */
        void productRows(int row, float[] x, int xOffset, int batch, float[] sums);

        /**
         * {@link #productRows} for at most {@code GROUP_TOKENS / 2} vectors, with half the running sums, so that a
         * small block does not pay for 8. A method of its own: one method with both loops grows past what the JIT
         * compiles into vector instructions (measured: a server alternating 4 and 8 sequences fell to a quarter of
         * its speed).
         */
        void productRowsOfFour(int row, float[] x, int xOffset, int batch, float[] sums);
    }

    /** This type's {@link RowGroupKernel}, or null when small blocks take the tiled product. */
    RowGroupKernel rowGroupKernel() {
        return null;
    }

    /**
     * The outputs of a row group for vectors firstVector .. firstVector + count - 1 of the block, from the running
     * sums its {@link RowGroupKernel} parked.
     */
    final void storeRowGroup(float[] sums, int row, int firstVector, int count, float[] out) {
        for (int i = 0; i < GROUP_ROWS; i++) {
            for (int b = 0; b < count; b++) {
                out[(firstVector + b) * rows + row + i] = Vectors.sum(FloatVector.fromArray(Vectors.FLOAT, sums, (i * GROUP_TOKENS + b) * Vectors.LANES));
            }
        }
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

    /** Runs task over [0, parts): inline for a product of little {@code work} (multiply-adds), else across the pool. */
    private static void runParts(WorkerPool.RangeTask task, int parts, long work, WorkerPool pool) {
        if (work < PARALLEL_WORK_THRESHOLD) {
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
