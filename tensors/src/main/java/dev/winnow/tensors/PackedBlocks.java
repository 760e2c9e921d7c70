package dev.winnow.tensors;

import static dev.winnow.tensors.Vectors.LE_SHORT;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A block-quantized matrix (Q8_0, Q4_0: an fp16 scale, then the quants, per block of 32 values) rearranged for
 * the kernels: every block's quants one after the other in a byte array, and the scales apart as floats. ggml's
 * interleaved layout costs the kernels an fp16 conversion and a broadcast per block and loads that straddle cache
 * lines; measured, this layout makes a decode-step product 1.4 to 1.8 times faster. A Java array rather than a
 * native segment because the JIT checks int-indexed array loads once per loop rather than once per load: a Q8_0
 * product in cache went from 7.9 to 16.0 G values/s on one thread (docs/performance.md). It is a copy of the weights, made once when a tensor is first read.
 */
final class PackedBlocks {
    private static final int SCALE_BYTES = 2;
    private static final ValueLayout.OfLong WORD = ValueLayout.JAVA_LONG_UNALIGNED;

    private final byte[] quants;
    private final float[] scales;
    private final int blocksPerRow;

    private PackedBlocks(byte[] quants, float[] scales, int blocksPerRow) {
        this.quants = quants;
        this.scales = scales;
        this.blocksPerRow = blocksPerRow;
    }

    /**
     * Copies {@code rows} rows of {@code blocksPerRow} blocks of {@code blockBytes} bytes (a 2-byte fp16 scale,
     * then {@code quantBytes} of quants, a multiple of 8) from {@code data}, rows split across the pool.
     *
     * @throws IllegalArgumentException if the matrix has more quant bytes than one array can hold
     */
    static PackedBlocks pack(MemorySegment data, int rows, int blocksPerRow, int blockBytes, int quantBytes, WorkerPool pool) {
        long blocks = (long) rows * blocksPerRow;
        if (blocks * quantBytes > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("a matrix of %d quantized blocks (%d bytes of quants) is too large: the limit is 2 GiB per matrix"
                    .formatted(blocks, blocks * quantBytes));
        }
        PackedBlocks packed = new PackedBlocks(new byte[(int) (blocks * quantBytes)], new float[(int) blocks], blocksPerRow);
        MemorySegment target = MemorySegment.ofArray(packed.quants);
        // Plain 8-byte moves rather than vector loads and stores: this runs once, mostly before the JIT has
        // compiled it, and the interpreter runs Vector API code hundreds of times slower. (A bulk copy per block
        // spends more time checking its arguments than copying 16 bytes.)
        WorkerPool.RangeTask copyRows = (firstRow, endRow) -> {
            for (long block = (long) firstRow * blocksPerRow, end = (long) endRow * blocksPerRow; block < end; block++) {
                long from = block * blockBytes;
                packed.scales[(int) block] = Float.float16ToFloat(data.get(LE_SHORT, from));
                for (int i = 0; i < quantBytes; i += Long.BYTES) {
                    target.set(WORD, block * quantBytes + i, data.get(WORD, from + SCALE_BYTES + i));
                }
            }
        };
        pool.parallelFor(rows, copyRows);
        return packed;
    }

    /** All quants, block after block. */
    byte[] quants() {
        return quants;
    }

    /** All scales, block after block. */
    float[] scales() {
        return scales;
    }

    /** The index of a row's first block (in {@link #scales()}; its quants start at index * quant bytes). */
    int firstBlock(int row) {
        return row * blocksPerRow;
    }
}
