package dev.winnow.engine.kv;

import dev.winnow.tensors.GgmlType;
import java.util.Arrays;
import java.util.BitSet;

/**
 * The shared store of KV pages. A page has {@link #pageSize()} token slots; each slot holds, for one layer of
 * one sequence, the keys and values of every KV head and the pruning module's interaction key (r floats), in the
 * pool's {@link PageMemory}. Pages are created on first need, up to {@link #maxPages()}, and a released page is
 * reused before a new one is created. The pool also keeps, per page, its occupancy bitmap, and per slot the
 * token's position and the first query position that no longer sees it; a slot is named by its handle,
 * {@code page * pageSize + slot}. It is not thread-safe: one thread (the decode loop) acquires and releases pages.
 */
public final class PagePool implements AutoCloseable {
    /** The occupancy of a page is one {@code long} bitmap. */
    public static final int MAX_PAGE_SIZE = 64;

    private final int pageSize;
    private final long maxPages;
    private final PageMemory memory;

    /** Bit s set: slot s of the page holds a live token. */
    private long[] live = new long[16];
    /** Position of the token in each slot, by slot handle. */
    private int[] positions;
    /**
     * Per slot handle: the first query position that no longer sees the token (a pruning decision taking effect
     * inside a block of queries); {@link Integer#MAX_VALUE} while it is kept.
     */
    private int[] visibleUntil;
    /** Index of the page in its owner's page list, and in its owner's list of pages with free slots (-1: none). */
    private int[] tableIndex = new int[16];
    private int[] freeIndex = new int[16];
    private boolean[] held = new boolean[16];

    /**
     * Released pages, reused lowest first: a sequence then gets its pages in the order they were created, so its
     * attention reads memory front to back (handing the last released page out first gave every sequence after the
     * first its pages in reverse).
     */
    private final BitSet released = new BitSet();
    private int created;
    private int inUse;

    /**
     * @param maxPages the budget: at most this many pages ever exist at once
     */
    public PagePool(int kvHeads, int headDim, int interactionDim, int pageSize, GgmlType storage, long maxPages) {
        if (pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
            throw new IllegalArgumentException("page size must be 1 to %d token slots, got %d".formatted(MAX_PAGE_SIZE, pageSize));
        }
        if (maxPages < 1) {
            throw new IllegalArgumentException("the KV budget must allow at least one page, got " + maxPages);
        }
        this.memory = new PageMemory(kvHeads, headDim, interactionDim, pageSize, storage);
        this.pageSize = pageSize;
        this.maxPages = maxPages;
        this.positions = new int[live.length * pageSize];
        this.visibleUntil = new int[live.length * pageSize];
    }

    /** Bytes one page takes, for one layer's worth of {@link #pageSize()} tokens. */
    public static long pageBytes(int kvHeads, int headDim, int interactionDim, int pageSize, GgmlType storage) {
        return PageMemory.pageBytes(kvHeads, headDim, interactionDim, pageSize, storage);
    }

    public int pageSize() {
        return pageSize;
    }

    public GgmlType storage() {
        return memory.storage();
    }

    public int interactionDim() {
        return memory.interactionDim();
    }

    public long pageBytes() {
        return memory.pageBytes();
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
        return inUse * pageBytes();
    }

    /** Takes an empty page, or returns -1 when the budget is exhausted. */
    public int acquire() {
        int page;
        int reused = released.nextSetBit(0);
        if (reused >= 0) {
            page = reused;
            released.clear(page);
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
        released.set(page);
        inUse--;
    }

    PageMemory memory() {
        return memory;
    }

    /** Live slots of a page, one bit per slot. */
    long liveSlots(int page) {
        return live[page];
    }

    /** Marks the lowest free slot of a page live and returns its handle; the page must have one. */
    int occupyFreeSlot(int page, int position) {
        int slot = Long.numberOfTrailingZeros(~live[page]);
        live[page] |= 1L << slot;
        int handle = page * pageSize + slot;
        positions[handle] = position;
        visibleUntil[handle] = Integer.MAX_VALUE;
        return handle;
    }

    /** Frees a slot; true when its page has no live slot left. */
    boolean vacate(int handle) {
        int page = handle / pageSize;
        live[page] &= ~(1L << (handle % pageSize));
        return live[page] == 0;
    }

    boolean isFull(int page) {
        return Long.bitCount(live[page]) == pageSize;
    }

    int position(int handle) {
        return positions[handle];
    }

    int visibleUntil(int handle) {
        return visibleUntil[handle];
    }

    /** Hides the token in a slot from query position {@code from} on (an earlier decision stays). */
    void hideFrom(int handle, int from) {
        visibleUntil[handle] = Math.min(visibleUntil[handle], from);
    }

    /** Copies a page's memory, live slots, positions and visibility into another page. */
    void copyPage(int source, int target) {
        memory.copy(source, target);
        live[target] = live[source];
        System.arraycopy(positions, source * pageSize, positions, target * pageSize, pageSize);
        System.arraycopy(visibleUntil, source * pageSize, visibleUntil, target * pageSize, pageSize);
    }

    /** Index of a page in its owner's list of held pages (-1: none). */
    int tableIndex(int page) {
        return tableIndex[page];
    }

    void setTableIndex(int page, int index) {
        tableIndex[page] = index;
    }

    /** Index of a page in its owner's list of pages with free slots (-1: none). */
    int freeIndex(int page) {
        return freeIndex[page];
    }

    void setFreeIndex(int page, int index) {
        freeIndex[page] = index;
    }

    private int create() {
        int page = created++;
        if (page == live.length) {
            int grown = live.length * 2;
            live = Arrays.copyOf(live, grown);
            positions = Arrays.copyOf(positions, grown * pageSize);
            visibleUntil = Arrays.copyOf(visibleUntil, grown * pageSize);
            tableIndex = Arrays.copyOf(tableIndex, grown);
            freeIndex = Arrays.copyOf(freeIndex, grown);
            held = Arrays.copyOf(held, grown);
        }
        memory.allocate(page);
        return page;
    }

    @Override
    public void close() {
        memory.close();
    }
}
