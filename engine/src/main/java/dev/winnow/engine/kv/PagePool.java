package dev.winnow.engine.kv;

import dev.winnow.tensors.FloatTensor;
import dev.winnow.tensors.GgmlType;
import org.eclipse.collections.api.list.primitive.MutableIntList;
import org.eclipse.collections.impl.list.mutable.primitive.IntArrayList;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * The shared store of KV pages. A page has {@link #pageSize()} token slots; each slot holds, for one layer of
 * one sequence, the keys and values of every KV head and the pruning module's interaction key (r floats).
 * Page memory is laid out as three regions, so each part is an ordinary tensor view:
 * <pre>
 *   keys   : per KV head, a block of slots x headDim values in the storage type
 *   values : the same for values
 *   inter. : slots rows of r F32 values
 * </pre>
 * A KV head's block of a page is contiguous, so attention converts it with one call, not one per slot.
 * Pages are created on first need, up to {@link #maxPages()}, and a released page is reused before a new one is
 * created. The pool also keeps each page's occupancy bitmap and the positions of its slots. It is not
 * thread-safe: one thread (the decode loop) acquires and releases pages.
 */
public final class PagePool implements AutoCloseable {
    /** The occupancy of a page is one {@code long} bitmap. */
    public static final int MAX_PAGE_SIZE = 64;

    private final int pageSize;
    private final int kvHeads;
    private final int headDim;
    private final int interactionDim;
    private final GgmlType storage;
    private final long maxPages;
    private final long keyRegionBytes;
    private final long pageBytes;
    private final Arena arena = Arena.ofShared();

    private MemorySegment[] segments = new MemorySegment[16];
    /** Per page and KV head, the block of keys (or values) of every slot, viewed as one row of slots x headDim. */
    private FloatTensor[][] keys = new FloatTensor[16][];
    private FloatTensor[][] values = new FloatTensor[16][];
    private FloatTensor[] interactionKeys = new FloatTensor[16];
    /** Bit s set: slot s of the page holds a live token. */
    long[] live = new long[16];
    /** Position of the token in each slot, indexed by slot handle page * pageSize + slot. */
    int[] positions;
    /**
     * Per slot handle: the first query position that no longer sees the token (a pruning decision taking effect
     * inside a block of queries); {@link Integer#MAX_VALUE} while it is kept.
     */
    int[] visibleUntil;
    /** Index of the page in its owner's page list, and in its owner's list of pages with free slots (-1: none). */
    int[] tableIndex = new int[16];
    int[] freeIndex = new int[16];
    private boolean[] held = new boolean[16];

    private final MutableIntList released = new IntArrayList();
    private int created;
    private int inUse;

    /**
     * @param maxPages the budget: at most this many pages ever exist at once
     */
    public PagePool(int kvHeads, int headDim, int interactionDim, int pageSize, GgmlType storage, long maxPages) {
        if (pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
            throw new IllegalArgumentException("page size must be 1 to %d token slots, got %d".formatted(MAX_PAGE_SIZE, pageSize));
        }
        checkStorage(storage, headDim);
        if (maxPages < 1) {
            throw new IllegalArgumentException("the KV budget must allow at least one page, got " + maxPages);
        }
        this.pageSize = pageSize;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.interactionDim = interactionDim;
        this.storage = storage;
        this.maxPages = maxPages;
        this.keyRegionBytes = (long) pageSize * kvHeads * storage.rowBytes(headDim);
        this.pageBytes = 2 * keyRegionBytes + (long) pageSize * interactionDim * Float.BYTES;
        this.positions = new int[segments.length * pageSize];
        this.visibleUntil = new int[segments.length * pageSize];
    }

    /** Bytes one page takes, for one layer's worth of {@link #pageSize()} tokens. */
    public static long pageBytes(int kvHeads, int headDim, int interactionDim, int pageSize, GgmlType storage) {
        checkStorage(storage, headDim);
        return 2L * pageSize * kvHeads * storage.rowBytes(headDim) + (long) pageSize * interactionDim * Float.BYTES;
    }

    private static void checkStorage(GgmlType storage, int headDim) {
        if (storage != GgmlType.F32 && storage != GgmlType.F16 && storage != GgmlType.Q8_0) {
            throw new IllegalArgumentException("KV storage type must be F32, F16 or Q8_0, got " + storage);
        }
        if (headDim % storage.blockSize() != 0) {
            throw new IllegalArgumentException("KV storage %s needs a head width that is a multiple of %d; this model's is %d"
                    .formatted(storage, storage.blockSize(), headDim));
        }
    }

    public int pageSize() {
        return pageSize;
    }

    public GgmlType storage() {
        return storage;
    }

    public int interactionDim() {
        return interactionDim;
    }

    public long pageBytes() {
        return pageBytes;
    }

    public long maxPages() {
        return maxPages;
    }

    /** Pages held by sequences now. */
    public int pagesInUse() {
        return inUse;
    }

    /** Pages whose memory exists (in use or waiting for reuse). */
    public int pagesCreated() {
        return created;
    }

    /** Bytes held by pages in use. */
    public long bytesInUse() {
        return inUse * pageBytes;
    }

    /** Takes an empty page, or returns -1 when the budget is exhausted. */
    public int acquire() {
        int page;
        if (!released.isEmpty()) {
            page = released.removeAtIndex(released.size() - 1);
        } else if (created < maxPages) {
            page = create();
        } else {
            return -1;
        }
        inUse++;
        held[page] = true;
        live[page] = 0;
        freeIndex[page] = -1;
        tableIndex[page] = -1;
        return page;
    }

    /** Gives a page back; its memory is kept for the next {@link #acquire()}. */
    public void release(int page) {
        if (page < 0 || page >= created || !held[page]) {
            throw new IllegalStateException("page %d is not in use".formatted(page));
        }
        held[page] = false;
        live[page] = 0;
        released.add(page);
        inUse--;
    }

    /** The keys of a KV head in a page: one row of pageSize x headDim values, slot after slot. */
    FloatTensor keyBlock(int page, int kvHead) {
        return keys[page][kvHead];
    }

    /** The values of a KV head in a page, laid out like {@link #keyBlock}. */
    FloatTensor valueBlock(int page, int kvHead) {
        return values[page][kvHead];
    }

    FloatTensor interactionKeys(int page) {
        return interactionKeys[page];
    }

    MemorySegment segment(int page) {
        return segments[page];
    }

    long keyOffset(int slot, int kvHead) {
        return ((long) kvHead * pageSize + slot) * storage.rowBytes(headDim);
    }

    long valueOffset(int slot, int kvHead) {
        return keyRegionBytes + keyOffset(slot, kvHead);
    }

    long interactionOffset(int slot) {
        return 2 * keyRegionBytes + (long) slot * interactionDim * Float.BYTES;
    }

    private int create() {
        int page = created++;
        if (page == segments.length) {
            int grown = segments.length * 2;
            segments = Arrays.copyOf(segments, grown);
            keys = Arrays.copyOf(keys, grown);
            values = Arrays.copyOf(values, grown);
            interactionKeys = Arrays.copyOf(interactionKeys, grown);
            live = Arrays.copyOf(live, grown);
            positions = Arrays.copyOf(positions, grown * pageSize);
            visibleUntil = Arrays.copyOf(visibleUntil, grown * pageSize);
            tableIndex = Arrays.copyOf(tableIndex, grown);
            freeIndex = Arrays.copyOf(freeIndex, grown);
            held = Arrays.copyOf(held, grown);
        }
        MemorySegment memory = arena.allocate(pageBytes, 64);
        segments[page] = memory;
        long blockBytes = keyRegionBytes / kvHeads;
        keys[page] = new FloatTensor[kvHeads];
        values[page] = new FloatTensor[kvHeads];
        for (int g = 0; g < kvHeads; g++) {
            keys[page][g] = FloatTensor.of(storage, memory.asSlice(g * blockBytes, blockBytes), 1, pageSize * headDim);
            values[page][g] = FloatTensor.of(storage, memory.asSlice(keyRegionBytes + g * blockBytes, blockBytes), 1,
                    pageSize * headDim);
        }
        if (interactionDim > 0) {
            interactionKeys[page] = FloatTensor.of(GgmlType.F32,
                    memory.asSlice(2 * keyRegionBytes, (long) pageSize * interactionDim * Float.BYTES), pageSize, interactionDim);
        }
        return page;
    }

    @Override
    public void close() {
        arena.close();
    }
}
