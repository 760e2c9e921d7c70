package dev.winnow.engine.kv;

import dev.winnow.tensors.GgmlType;
import dev.winnow.tensors.Quantize;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * The memory of a pool's pages: written slot by slot as tokens arrive, read by attention a KV head's block at a
 * time. Keys and values are stored in F32, F16 or Q8_0, the pruning module's interaction keys in F32. A page is
 * one segment of three regions:
 * <pre>
 *   keys   : per KV head, a block of slots x headDim values in the storage type
 *   values : the same for values
 *   inter. : slots rows of r F32 values
 * </pre>
 * A KV head's block is contiguous, so attention converts it with one call, not one per slot. Every read converts
 * the bytes as they are now: nothing is cached, so a rewritten slot is never read stale.
 */
final class PageMemory implements AutoCloseable {
    private final int pageSize;
    private final int kvHeads;
    private final int headDim;
    private final int interactionDim;
    private final GgmlType storage;
    private final long rowBytes;
    private final long keyRegionBytes;
    private final long pageBytes;
    private final Arena arena = Arena.ofShared();
    private MemorySegment[] pages = new MemorySegment[16];

    PageMemory(int kvHeads, int headDim, int interactionDim, int pageSize, GgmlType storage) {
        this.pageSize = pageSize;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.interactionDim = interactionDim;
        this.storage = storage;
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
            Quantize.quantize(storage, k, from + g * headDim, headDim, pages[page], keyOffset(slot, g));
            Quantize.quantize(storage, v, from + g * headDim, headDim, pages[page], keyRegionBytes + keyOffset(slot, g));
        }
    }

    /** Reads back a slot's keys and values, kvDim floats each. */
    void read(int page, int slot, float[] k, float[] v) {
        for (int g = 0; g < kvHeads; g++) {
            Quantize.dequantize(storage, pages[page], keyOffset(slot, g), k, g * headDim, headDim);
            Quantize.dequantize(storage, pages[page], keyRegionBytes + keyOffset(slot, g), v, g * headDim, headDim);
        }
    }

    /** The keys of one KV head for every slot of a page, slot after slot: pageSize x headDim floats from out[at]. */
    void readKeys(int page, int kvHead, float[] out, int at) {
        Quantize.dequantize(storage, pages[page], keyOffset(0, kvHead), out, at, pageSize * headDim);
    }

    /** The values of one KV head for every slot of a page, laid out like {@link #readKeys}. */
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

    private long interactionOffset(int slot) {
        return 2 * keyRegionBytes + (long) slot * interactionDim * Float.BYTES;
    }

    @Override
    public void close() {
        arena.close();
    }
}
