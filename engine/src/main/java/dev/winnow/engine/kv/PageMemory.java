package dev.winnow.engine.kv;

import dev.winnow.tensors.GgmlType;
import dev.winnow.tensors.Quantize;
import dev.winnow.tensors.VectorMath;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The memory of a pool's pages: written slot by slot as tokens arrive, read by attention a KV head's block at a
 * time. Keys and values are stored in F32, F16 or Q8_0, the pruning module's interaction keys in F32. A page is
 * one segment of three regions:
 * <pre>
 *   keys   : per KV head, a block of headDim x slots values in the storage type (F32, F16: column by column,
 *            value d of every slot together), or of slots x headDim (Q8_0, whose blocks run along a head)
 *   values : per KV head, a block of slots x headDim values in the storage type, or, for a head narrower than
 *            half a vector (which attention weights by column), of headDim x slots as the keys
 *   inter. : slots rows of r F32 values
 * </pre>
 * A KV head's block is contiguous, so attention converts it with one call, not one per slot; keys stored by
 * column are scored where they were converted, and narrow values weighted, with no transposition. Every read
 * converts the bytes as they are now: nothing is cached, so a rewritten slot is never read stale.
 */
final class PageMemory implements AutoCloseable {
    private final int pageSize;
    private final int kvHeads;
    private final int headDim;
    private final int interactionDim;
    private final GgmlType storage;
    /** Whether keys are stored column by column: for types of one value per block (F32, F16), of valueBytes each. */
    private final boolean keysByColumn;
    /** Whether values are stored column by column too: narrow heads ({@link #valuesByColumn()}). */
    private final boolean valuesByColumn;
    private final long valueBytes;
    private final long rowBytes;
    private final long keyRegionBytes;
    private final long pageBytes;
    private static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private final Arena arena = Arena.ofShared();
    private MemorySegment[] pages = new MemorySegment[16];

    PageMemory(int kvHeads, int headDim, int interactionDim, int pageSize, GgmlType storage) {
        this.pageSize = pageSize;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.interactionDim = interactionDim;
        this.storage = storage;
        this.keysByColumn = storage.blockSize() == 1;
        this.valuesByColumn = keysByColumn && 2 * headDim <= VectorMath.lanes();
        this.valueBytes = keysByColumn ? storage.rowBytes(1) : 0;
        this.rowBytes = storage.rowBytes(headDim);
        this.keyRegionBytes = (long) pageSize * kvHeads * rowBytes;
        this.pageBytes = pageBytes(kvHeads, headDim, interactionDim, pageSize, storage);
    }

    static long pageBytes(int kvHeads, int headDim, int interactionDim, int pageSize, GgmlType storage) {
        if (storage != GgmlType.F32 && storage != GgmlType.F16 && storage != GgmlType.Q8_0) {
            throw new IllegalArgumentException("KV storage type must be F32, F16 or Q8_0, got " + storage);
        }
        if (headDim % storage.blockSize() != 0) {
            throw new IllegalArgumentException("KV storage %s needs a head width that is a multiple of %d; this model's is %d"
                    .formatted(storage, storage.blockSize(), headDim));
        }
        return 2L * pageSize * kvHeads * storage.rowBytes(headDim) + (long) pageSize * interactionDim * Float.BYTES;
    }

    long pageBytes() {
        return pageBytes;
    }

    GgmlType storage() {
        return storage;
    }

    int interactionDim() {
        return interactionDim;
    }

    /** Whether {@link #readKeys} gives a KV head's keys column by column rather than slot after slot. */
    boolean keysByColumn() {
        return keysByColumn;
    }

    /**
     * Whether {@link #readValues} gives a KV head's values column by column: for heads narrower than half a vector,
     * whose rows would leave most lanes idle, so attention weights them by column; stored so, they need no
     * transposition on every read.
     */
    boolean valuesByColumn() {
        return valuesByColumn;
    }

    /** Allocates the memory of page {@code page}, the next one to exist. */
    void allocate(int page) {
        if (page == pages.length) {
            pages = Arrays.copyOf(pages, 2 * pages.length);
        }
        pages[page] = arena.allocate(pageBytes, 64);
    }

    /** Writes a token's keys and values (kvDim floats each, from {@code k[from]} and {@code v[from]}) into a slot. */
    void write(int page, int slot, float[] k, float[] v, int from) {
        for (int g = 0; g < kvHeads; g++) {
            if (keysByColumn) {
                writeColumns(pages[page], 0, slot, g, k, from + g * headDim);
            } else {
                Quantize.quantize(storage, k, from + g * headDim, headDim, pages[page], keyOffset(slot, g));
            }
            if (valuesByColumn) {
                writeColumns(pages[page], keyRegionBytes, slot, g, v, from + g * headDim);
            } else {
                Quantize.quantize(storage, v, from + g * headDim, headDim, pages[page], keyRegionBytes + keyOffset(slot, g));
            }
        }
    }

    /** Reads back a slot's keys and values, kvDim floats each. */
    void read(int page, int slot, float[] k, float[] v) {
        for (int g = 0; g < kvHeads; g++) {
            if (keysByColumn) {
                readColumns(pages[page], 0, slot, g, k, g * headDim);
            } else {
                Quantize.dequantize(storage, pages[page], keyOffset(slot, g), k, g * headDim, headDim);
            }
            if (valuesByColumn) {
                readColumns(pages[page], keyRegionBytes, slot, g, v, g * headDim);
            } else {
                Quantize.dequantize(storage, pages[page], keyRegionBytes + keyOffset(slot, g), v, g * headDim, headDim);
            }
        }
    }

    /**
     * The keys of one KV head for every slot of a page, pageSize x headDim floats from out[at]: column by column
     * (value d of slot s at {@code d * pageSize + s}) if {@link #keysByColumn}, else slot after slot.
     */
    void readKeys(int page, int kvHead, float[] out, int at) {
        Quantize.dequantize(storage, pages[page], keyOffset(0, kvHead), out, at, pageSize * headDim);
    }

    /**
     * The values of one KV head for every slot of a page, pageSize x headDim floats from out[at]: column by column
     * if {@link #valuesByColumn}, else slot after slot.
     */
    void readValues(int page, int kvHead, float[] out, int at) {
        Quantize.dequantize(storage, pages[page], keyRegionBytes + keyOffset(0, kvHead), out, at, pageSize * headDim);
    }

    void writeInteractionKey(int page, int slot, float[] key, int from) {
        MemorySegment.copy(key, from, pages[page], ValueLayout.JAVA_FLOAT_UNALIGNED, interactionOffset(slot), interactionDim);
    }

    void readInteractionKey(int page, int slot, float[] out) {
        MemorySegment.copy(pages[page], ValueLayout.JAVA_FLOAT_UNALIGNED, interactionOffset(slot), out, 0, interactionDim);
    }

    void copy(int fromPage, int toPage) {
        pages[toPage].copyFrom(pages[fromPage]);
    }

    private long keyOffset(int slot, int kvHead) {
        return ((long) kvHead * pageSize + slot) * rowBytes;
    }

    /**
     * Writes a slot's key or value of one KV head (headDim floats from vector[from]) into the head's columns, value
     * by value, in the page's key region ({@code region} 0) or value region ({@code region} keyRegionBytes).
     */
    private void writeColumns(MemorySegment page, long region, int slot, int kvHead, float[] vector, int from) {
        for (int d = 0; d < headDim; d++) {
            long at = region + columnOffset(slot, kvHead, d);
            if (storage == GgmlType.F16) {
                page.set(LE_SHORT, at, Float.floatToFloat16(vector[from + d]));
            } else {
                page.set(LE_FLOAT, at, vector[from + d]);
            }
        }
    }

    /** Reads a slot's key or value of one KV head (headDim floats into vector[to]) from the head's columns. */
    private void readColumns(MemorySegment page, long region, int slot, int kvHead, float[] vector, int to) {
        for (int d = 0; d < headDim; d++) {
            long at = region + columnOffset(slot, kvHead, d);
            vector[to + d] = storage == GgmlType.F16 ? Float.float16ToFloat(page.get(LE_SHORT, at)) : page.get(LE_FLOAT, at);
        }
    }

    /** Where value d of a slot's vector of one KV head is within its region, when stored by column. */
    private long columnOffset(int slot, int kvHead, int d) {
        return (((long) kvHead * headDim + d) * pageSize + slot) * valueBytes;
    }

    private long interactionOffset(int slot) {
        return 2 * keyRegionBytes + (long) slot * interactionDim * Float.BYTES;
    }

    @Override
    public void close() {
        arena.close();
    }
}
