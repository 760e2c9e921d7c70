package dev.winnow.engine.kv;

import dev.winnow.tensors.VectorMath;
import dev.winnow.tensors.WorkerPool;
import org.eclipse.collections.api.list.primitive.MutableIntList;
import org.eclipse.collections.impl.list.mutable.primitive.IntArrayList;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * One sequence's KV cache over a shared {@link PagePool}. Each layer has its own page table, so layers may hold
 * different tokens. Storing a token takes a free slot in one of the layer's pages if there is one, else a new
 * page; dropping a token frees its slot at once, and a page whose last slot is freed goes back to the pool. Both
 * are O(1). Keys are stored after RoPE at their true positions, so slot order does not matter to attention.
 *
 * <p>Pruning works in two steps. While a block of tokens is processed, a policy may {@link #hideFrom hide} a
 * token from a query position on: queries at or after it no longer see the token (the keep mask inside a
 * block). After the block, {@link #commitDrops} frees every hidden token's slot for good. Policies walk a
 * layer's tokens with {@link #liveTokens} and name a token by its slot handle, so they never see pages or bitmaps.
 */
public final class PagedKvCache implements KvCache {
    /** Below this many multiply-adds, handing KV heads to other threads costs more than it saves. */
    private static final long PARALLEL_WORK_THRESHOLD = 1 << 15;
    /**
     * Key values attention converts and scores at once per KV head (whole pages, at least one): enough slots that a
     * query head's per-tile costs fade (64 keys of 64 values, 512 of 8), few enough that the tile stays in the
     * first-level cache while every query of the block reads it.
     */
    private static final int TILE_FLOATS = 4096;
    /**
     * Tiles per token range: a row's attention is computed range by range (each range's own online softmax), the
     * ranges merged in page order, so that a decode step can hand a long sequence's ranges to several threads
     * (flash-decoding). Four tiles: 256 slots of 64-value heads, enough work per task that handing it out costs
     * little, few enough that a sequence of a thousand tokens already keeps two threads busy.
     */
    private static final int RANGE_TILES = 4;
    /**
     * Tasks per thread a decode step split by range aims for. A task takes a token range's pages for as many KV
     * heads as this allows (all of them, at depth), so that it reads its pages once, front to back, and their
     * slots once, where one task per KV head read a slice of each page and left the rest to other tasks (a decode
     * step reads its cache from memory, not from the processor's caches). Four: enough that a thread slowed by
     * other programs hands ranges to the other, few enough that at depth each task reads whole pages.
     */
    private static final int DECODE_TASKS_PER_THREAD = 4;

    private final PagePool pool;
    private final PageMemory memory;
    private final KvGeometry geometry;
    private final LiveTokens cursor = new LiveTokens();
    /** {@link #attendPieces} as a task, made once: a call to {@link #attend} allocates nothing. */
    private final WorkerPool.RangeTask pieceAttention = this::attendPieces;
    /** Pages per token range: a whole number of tiles, fixed by the geometry and page size alone. */
    private final int rangePages;
    /** The arguments of the {@link #attend} call in progress, read by its tasks. */
    private Layer block;
    private float[] blockQueries;
    private float[] blockOutput;
    private int blockStart;
    private int blockCount;
    private AttentionWeights blockWeights;
    /**
     * Pieces of each KV head's work, one task per KV head and piece: slices of the block's query rows. A decode
     * step split by range ({@link #blockByRange}) has instead {@link #rangeParts} tasks per token range, each for
     * a run of KV heads.
     */
    private int blockPieces;
    private int rangeParts;
    private boolean blockByRange;
    private int blockRanges;
    private final Layer[] layers;
    private final float scale;
    /** One per thread that may run a task at once; a task claims a free one ({@link #tileTaken}) for its pages. */
    private Tile[] tiles = new Tile[0];
    private AtomicIntegerArray tileTaken = new AtomicIntegerArray(0);
    /** Per (query row, head) of the block: the largest score so far and the sum of the weights so far. */
    private float[] runningMax = new float[0];
    private float[] runningSum = new float[0];
    /**
     * One token range's partial softmax per (state row, head): its largest score, sum of weights and weighted
     * values; and per state row the visible earlier tokens (the sparsity count, kept by KV head 0's tasks). A state
     * row is a query row of the block, or for a decode step split by range, a range.
     */
    private float[] rangeMax = new float[0];
    private float[] rangeSum = new float[0];
    private float[] rangeValues = new float[0];
    private int[] rangeEarlier = new int[0];
    /** Per query head: summed weights per page slot (page index * pageSize + slot), when weights were asked for. */
    private float[][] weightSums;
    /** Visible earlier tokens of each query of the current block (for the sparsity count). */
    private int[] visibleEarlier = new int[1];
    /** One past the highest position ever stored: the length of the sequence as a dense cache would see it. */
    private int length;

    /** A layer's page table and its pruning counts. */
    private static final class Layer {
        /** Pages held, in no particular order; {@code pool.tableIndex(page)} is the index here. */
        final MutableIntList pages = new IntArrayList();
        /** Held pages with at least one free slot; {@code pool.freeIndex(page)} is the index here. */
        final MutableIntList pagesWithFreeSlots = new IntArrayList();
        /**
         * Token position to slot handle (page * pageSize + slot), -1 where the layer holds none: an array, grown
         * as the sequence grows and kept by {@link #clear}, so storing and dropping never allocate (a hash map
         * rehashes as tokens come and go).
         */
        int[] slotOfPosition = new int[0];
        /** Live tokens: the handles in {@link #slotOfPosition}. */
        int tokens;

        int slot(int position) {
            return position >= 0 && position < slotOfPosition.length ? slotOfPosition[position] : -1;
        }

        void put(int position, int handle) {
            if (position >= slotOfPosition.length) {
                int length = slotOfPosition.length;
                slotOfPosition = Arrays.copyOf(slotOfPosition, Math.max(position + 1, 2 * length));
                Arrays.fill(slotOfPosition, length, slotOfPosition.length, -1);
            }
            slotOfPosition[position] = handle;
            tokens++;
        }

        /** Forgets a position's slot and returns it, or -1 if the layer does not hold the position. */
        int remove(int position) {
            int handle = slot(position);
            if (handle >= 0) {
                slotOfPosition[position] = -1;
                tokens--;
            }
            return handle;
        }
        /** (query, earlier token) pairs seen, and how many of them were visible: dcp.md's sparsity. */
        long earlierPairs;
        long visiblePairs;
    }

    public PagedKvCache(PagePool pool, KvGeometry geometry) {
        this.pool = pool;
        this.memory = pool.memory();
        this.geometry = geometry;
        this.layers = new Layer[geometry.layers()];
        for (int l = 0; l < layers.length; l++) {
            layers[l] = new Layer();
        }
        this.weightSums = new float[geometry.heads()][pool.pageSize()];
        this.scale = (float) (1.0 / Math.sqrt(geometry.headDim()));
        this.rangePages = RANGE_TILES * tilePages(pool.pageSize(), geometry.headDim());
    }

    /** Pages a tile holds: {@link #TILE_FLOATS} key values of one KV head, at least one page. */
    private static int tilePages(int pageSize, int headDim) {
        return Math.max(1, TILE_FLOATS / (headDim * pageSize));
    }

    public PagePool pool() {
        return pool;
    }

    @Override
    public KvGeometry geometry() {
        return geometry;
    }

    @Override
    public void store(int layer, int firstPosition, int count, float[] k, float[] v) {
        Layer table = layers[layer];
        for (int i = 0; i < count; i++) {
            int position = firstPosition + i;
            if (table.slot(position) >= 0) {
                throw new IllegalStateException("layer %d already holds position %d".formatted(layer, position));
            }
            int handle = takeSlot(layer, position);
            memory.write(handle / pool.pageSize(), handle % pool.pageSize(), k, v, i * geometry.kvDim());
            table.put(position, handle);
            length = Math.max(length, position + 1);
        }
    }

    /**
     * Stores the pruning module's interaction keys (r floats per token, {@code count} tokens from
     * {@code firstPosition}) next to the keys and values already stored for those positions.
     */
    public void storeInteractionKeys(int layer, int firstPosition, int count, float[] keys) {
        int r = pool.interactionDim();
        if (r == 0) {
            throw new IllegalStateException("this cache's pool has no room for interaction keys (r = 0)");
        }
        for (int i = 0; i < count; i++) {
            int handle = handleOf(layer, firstPosition + i);
            memory.writeInteractionKey(handle / pool.pageSize(), handle % pool.pageSize(), keys, i * r);
        }
    }

    /** Reads the interaction key (r floats) of the token in slot {@code slot} (a handle from {@link #liveTokens}). */
    public void readInteractionKey(int slot, float[] out) {
        memory.readInteractionKey(slot / pool.pageSize(), slot % pool.pageSize(), out);
    }

    /** Frees the slot of the token at {@code position} in one layer; false if the layer does not hold it. */
    public boolean drop(int layer, int position) {
        Layer table = layers[layer];
        int handle = table.remove(position);
        if (handle < 0) {
            return false;
        }
        int page = handle / pool.pageSize();
        if (pool.vacate(handle)) {
            removeFromFreeList(table, page);
            removeIndexed(table.pages, page, true);
            pool.release(page);
        } else if (pool.freeIndex(page) < 0) {
            addIndexed(table.pagesWithFreeSlots, page, false);
        }
        return true;
    }

    // ---- what pruning policies see: a layer's live tokens, each named by its slot handle ----

    /**
     * Walks the live tokens of a layer, in no particular order: {@code while (tokens.next())} then
     * {@link LiveTokens#position()} and {@link LiveTokens#slot()}. The cache has one cursor, reset by each call,
     * so one walk at a time; hiding tokens during a walk is allowed, dropping them is not.
     */
    public LiveTokens liveTokens(int layer) {
        cursor.reset(layers[layer].pages);
        return cursor;
    }

    /** A walk over one layer's live tokens (see {@link #liveTokens}); allocates nothing. */
    public final class LiveTokens {
        private MutableIntList pages;
        private int pageIndex;
        private int page;
        private long remaining;
        private int handle;

        private LiveTokens() {
        }

        private void reset(MutableIntList pages) {
            this.pages = pages;
            this.pageIndex = -1;
            this.remaining = 0;
        }

        /** Moves to the next live token; false when there is none. */
        public boolean next() {
            while (remaining == 0) {
                if (++pageIndex >= pages.size()) {
                    return false;
                }
                page = pages.get(pageIndex);
                remaining = pool.liveSlots(page);
            }
            handle = page * pool.pageSize() + Long.numberOfTrailingZeros(remaining);
            remaining &= remaining - 1;
            return true;
        }

        /** The position of the current token. */
        public int position() {
            return pool.position(handle);
        }

        /** The slot handle of the current token, valid until the token is dropped. */
        public int slot() {
            return handle;
        }
    }

    /** The first query position that no longer sees the token in a slot ({@link Integer#MAX_VALUE}: kept). */
    public int visibleUntil(int slot) {
        return pool.visibleUntil(slot);
    }

    /** Hides the token in a slot from query position {@code position} on (a drop decided at that step). */
    public void hideFrom(int slot, int position) {
        pool.hideFrom(slot, position);
    }

    /** Receives each token that {@link #commitDrops} frees: its position and the step from which it was hidden. */
    @FunctionalInterface
    public interface DropListener {
        void dropped(int layer, int position, int step);
    }

    /**
     * Frees every token of the layer hidden from a query position at or before {@code lastPosition}: after a
     * block, those tokens can never be seen again.
     *
     * @return how many were freed
     */
    public int commitDrops(int layer, int lastPosition, DropListener listener) {
        Layer table = layers[layer];
        int pageSize = pool.pageSize();
        int freed = 0;
        // Dropping may release the page and reorder the list, so walk it backwards from a snapshot of its size.
        for (int p = table.pages.size() - 1; p >= 0; p--) {
            if (p >= table.pages.size()) {
                continue;
            }
            int page = table.pages.get(p);
            for (long bits = pool.liveSlots(page); bits != 0; bits &= bits - 1) {
                int handle = page * pageSize + Long.numberOfTrailingZeros(bits);
                int step = pool.visibleUntil(handle);
                if (step <= lastPosition) {
                    int position = pool.position(handle);
                    drop(layer, position);
                    freed++;
                    if (listener != null) {
                        listener.dropped(layer, position, step);
                    }
                }
            }
        }
        return freed;
    }

    @Override
    public void attend(int layer, float[] q, float[] out, int firstPosition, int count, WorkerPool workers,
                       AttentionWeights weights) {
        Layer table = layers[layer];
        int live = table.tokens;
        blockRanges = Math.ceilDiv(table.pages.size(), rangePages);
        // A decode step's query is split by token range, which converts no page twice; not when weights are
        // recorded (they need the merged maximum and sum before a second pass over the pages).
        blockByRange = count == 1 && weights == null && blockRanges > 1;
        // Otherwise query rows are split only as far as it takes to give every thread work: each piece converts
        // the pages once more. Not at all when weights are recorded: the pieces of a KV head would add to its
        // heads' weight sums at the same time.
        blockPieces = weights != null ? 1 : Math.min(count, Math.ceilDiv(2 * workers.threads(), geometry.kvHeads()));
        rangeParts = Math.min(geometry.kvHeads(), Math.ceilDiv(DECODE_TASKS_PER_THREAD * workers.threads(), blockRanges));
        prepareBuffers(table.pages.size(), count, blockByRange ? blockRanges : count, weights != null);
        block = table;
        blockQueries = q;
        blockOutput = out;
        blockStart = firstPosition;
        blockCount = count;
        blockWeights = weights;
        int tasks = blockByRange ? blockRanges * rangeParts : geometry.kvHeads() * blockPieces;
        prepareTiles(Math.max(1, Math.min(tasks, workers.threads())));
        if ((long) live * geometry.heads() * geometry.headDim() * count < PARALLEL_WORK_THRESHOLD) {
            attendPieces(0, tasks);
        } else {
            workers.parallelForPieces(tasks, 1, pieceAttention);
        }
        if (blockByRange) {
            mergeDecodeRanges();
        }
        for (int i = 0; i < count; i++) {
            table.earlierPairs += firstPosition + i;
            table.visiblePairs += visibleEarlier[i];
        }
        if (weights != null) {
            addWeights(table, weights);
        }
    }

    /**
     * Tasks [first, end) of the {@link #attend} call in progress. A decode step split by range: task t is token
     * range t / parts and the t % parts-th run of its KV heads, so that the tasks running at once read neighbouring
     * pages. Otherwise task t is KV head t / pieces and the t % pieces-th slice of the block's rows.
     */
    private void attendPieces(int first, int end) {
        Tile tile = claimTile();
        try {
            for (int task = first; task < end; task++) {
                if (blockByRange) {
                    int range = task / rangeParts;
                    int part = task % rangeParts;
                    int kvHeads = geometry.kvHeads();
                    attendRange(tile, part * kvHeads / rangeParts, (part + 1) * kvHeads / rangeParts, 0, 1, range, range);
                } else {
                    int kvHead = task / blockPieces;
                    int piece = task % blockPieces;
                    attendRows(tile, kvHead, piece * blockCount / blockPieces, (piece + 1) * blockCount / blockPieces);
                }
            }
        } finally {
            tileTaken.set(tile.index, 0);
        }
    }

    /** A tile no other task is using: at most as many tasks run at once as there are tiles. */
    private Tile claimTile() {
        for (int t = 0; ; t = (t + 1) % tiles.length) {
            if (tileTaken.compareAndSet(t, 0, 1)) {
                return tiles[t];
            }
        }
    }

    private void prepareTiles(int concurrentTasks) {
        if (tiles.length < concurrentTasks) {
            int had = tiles.length;
            tiles = Arrays.copyOf(tiles, concurrentTasks);
            for (int t = had; t < concurrentTasks; t++) {
                tiles[t] = new Tile(t, pool.pageSize(), geometry.headDim());
            }
            tileTaken = new AtomicIntegerArray(concurrentTasks);
        }
    }

    /**
     * The attention of the block's query rows [firstRow, endRow) for the query heads of one KV head: range after
     * range of pages, each range's partial softmax merged into the rows' totals in page order, the rows divided by
     * their sums at the end. A query's arithmetic depends only on its own row and the pages (how many there are,
     * which of them it sees), never on the block, the split around it or the threads: a decode step split by range
     * ({@link #mergeDecodeRanges}) computes the same ranges and merges them in the same order.
     */
    private void attendRows(Tile tile, int kvHead, int firstRow, int endRow) {
        int heads = geometry.heads();
        int firstHead = kvHead * geometry.groupSize();
        int endHead = firstHead + geometry.groupSize();
        for (int i = firstRow; i < endRow; i++) {
            for (int head = firstHead; head < endHead; head++) {
                startTotal(i * heads + head);
            }
            if (kvHead == 0) {
                visibleEarlier[i] = 0;
            }
        }
        for (int range = 0; range < blockRanges; range++) {
            attendRange(tile, kvHead, kvHead + 1, firstRow, endRow, range, firstRow);
            for (int i = firstRow; i < endRow; i++) {
                for (int head = firstHead; head < endHead; head++) {
                    mergeRange(i * heads + head, i * heads + head);
                }
                if (kvHead == 0) {
                    visibleEarlier[i] += rangeEarlier[i];
                }
            }
        }
        for (int i = firstRow; i < endRow; i++) {
            for (int head = firstHead; head < endHead; head++) {
                finishTotal(i * heads + head);
            }
        }
        if (blockWeights != null) {
            recordWeights(tile, kvHead, firstRow, endRow);
        }
    }

    /** The decode step's query: its ranges' partial softmax results merged head by head, in page order. */
    private void mergeDecodeRanges() {
        int heads = geometry.heads();
        visibleEarlier[0] = 0;
        for (int head = 0; head < heads; head++) {
            startTotal(head);
            for (int range = 0; range < blockRanges; range++) {
                mergeRange(head, range * heads + head);
            }
            finishTotal(head);
        }
        for (int range = 0; range < blockRanges; range++) {
            visibleEarlier[0] += rangeEarlier[range];
        }
    }

    /**
     * The partial softmax of the block's query rows [firstRow, endRow) for the query heads of KV heads
     * [firstKvHead, endKvHead) over one token range's pages, a tile at a time, into the range state rows from
     * {@code firstState}: each tile's keys and values of a KV head are converted once for all those rows and its
     * heads, and every (row, head) keeps a running maximum score and sum of weights (online softmax) with its
     * weighted values so far, rescaled whenever the maximum rises. A (row, head)'s arithmetic is the same whichever
     * KV heads share the call.
     */
    private void attendRange(Tile tile, int firstKvHead, int endKvHead, int firstRow, int endRow, int range,
                             int firstState) {
        int heads = geometry.heads();
        int headDim = geometry.headDim();
        for (int state = firstState; state < firstState + endRow - firstRow; state++) {
            for (int head = firstKvHead * geometry.groupSize(); head < endKvHead * geometry.groupSize(); head++) {
                int at = state * heads + head;
                rangeMax[at] = Float.NEGATIVE_INFINITY;
                rangeSum[at] = 0;
                Arrays.fill(rangeValues, at * headDim, (at + 1) * headDim, 0f);
            }
            if (firstKvHead == 0) {
                rangeEarlier[state] = 0;
            }
        }
        for (int p = range * rangePages, end = Math.min(block.pages.size(), p + rangePages); p < end; p += tile.capacity) {
            tile.loadSlots(p, end);
            for (int kvHead = firstKvHead; kvHead < endKvHead; kvHead++) {
                tile.loadKeys(kvHead);
                tile.loadValues(kvHead);
                attendTile(tile, kvHead, firstRow, endRow, firstState);
            }
        }
    }

    /** Adds the tile loaded for one KV head to the range states of rows [firstRow, endRow) ({@link #attendRange}). */
    private void attendTile(Tile tile, int kvHead, int firstRow, int endRow, int firstState) {
        float[] q = blockQueries;
        int heads = geometry.heads();
        int headDim = geometry.headDim();
        int firstHead = kvHead * geometry.groupSize();
        int endHead = firstHead + geometry.groupSize();
        for (int i = firstRow; i < endRow; i++) {
            float[] mask = tile.maskFor(blockStart + i);
            if (tile.visible == 0) {
                continue;
            }
            int state = firstState + i - firstRow;
            if (kvHead == 0) {
                rangeEarlier[state] += tile.earlier;
            }
            for (int head = firstHead; head < endHead; head++) {
                int at = state * heads + head;
                int valuesOffset = at * headDim;
                float tileMax = VectorMath.maskedColumnDots(q, (i * heads + head) * headDim, headDim,
                        tile.keyColumns, tile.width, tile.keyBlockWidth, scale, mask, tile.scores);
                if (tileMax > rangeMax[at]) {
                    float rescale = VectorMath.exp(rangeMax[at] - tileMax);
                    VectorMath.scale(rangeValues, valuesOffset, headDim, rescale);
                    rangeSum[at] *= rescale;
                    rangeMax[at] = tileMax;
                }
                rangeSum[at] += VectorMath.expShifted(tile.scores, 0, tile.width, rangeMax[at]);
                tile.addWeightedValues(rangeValues, valuesOffset);
            }
        }
    }

    private void startTotal(int row) {
        runningMax[row] = Float.NEGATIVE_INFINITY;
        runningSum[row] = 0;
        int headDim = geometry.headDim();
        Arrays.fill(blockOutput, row * headDim, (row + 1) * headDim, 0f);
    }

    /**
     * Merges the partial softmax in range state {@code at} into the total of (query row, head) {@code row}: both
     * rescaled to the larger of their maxima. A range the query sees nothing of leaves the total as it is; the
     * first range it sees is taken as it is, so a sequence of one range gets one online softmax's exact result.
     */
    private void mergeRange(int row, int at) {
        float partMax = rangeMax[at];
        if (partMax == Float.NEGATIVE_INFINITY) {
            return;
        }
        int headDim = geometry.headDim();
        float totalMax = runningMax[row];
        if (totalMax == Float.NEGATIVE_INFINITY) {
            System.arraycopy(rangeValues, at * headDim, blockOutput, row * headDim, headDim);
            runningMax[row] = partMax;
            runningSum[row] = rangeSum[at];
            return;
        }
        float max = Math.max(totalMax, partMax);
        float totalScale = VectorMath.exp(totalMax - max);
        float partScale = VectorMath.exp(partMax - max);
        VectorMath.scale(blockOutput, row * headDim, headDim, totalScale);
        VectorMath.axpy(partScale, rangeValues, at * headDim, blockOutput, row * headDim, headDim);
        runningSum[row] = runningSum[row] * totalScale + rangeSum[at] * partScale;
        runningMax[row] = max;
    }

    private void finishTotal(int row) {
        int headDim = geometry.headDim();
        VectorMath.scale(blockOutput, row * headDim, headDim, 1f / runningSum[row]);
    }

    /**
     * Adds each recorded query's final weights (its scores again, with its final maximum and sum) to the
     * weight sums of its heads, by page index and slot.
     */
    private void recordWeights(Tile tile, int kvHead, int firstRow, int endRow) {
        int recordFrom = blockWeights.lastQueryOnly() ? Math.max(firstRow, blockCount - 1) : firstRow;
        if (recordFrom >= endRow) {
            return;
        }
        int heads = geometry.heads();
        int headDim = geometry.headDim();
        int group = geometry.groupSize();
        for (int p = 0, pages = block.pages.size(); p < pages; p += tile.capacity) {
            tile.loadSlots(p, pages);
            tile.loadKeys(kvHead);
            for (int i = recordFrom; i < endRow; i++) {
                float[] mask = tile.maskFor(blockStart + i);
                if (tile.visible == 0) {
                    continue;
                }
                for (int head = kvHead * group; head < (kvHead + 1) * group; head++) {
                    int row = i * heads + head;
                    VectorMath.maskedColumnDots(blockQueries, row * headDim, headDim, tile.keyColumns, tile.width,
                            tile.keyBlockWidth, scale, mask, tile.scores);
                    VectorMath.expShifted(tile.scores, 0, tile.width, runningMax[row]);
                    VectorMath.axpy(1f / runningSum[row], tile.scores, 0, weightSums[head], p * pool.pageSize(),
                            tile.width);
                }
            }
        }
    }

    /**
     * One attention task's view of a run of consecutive pages of the layer's table (up to {@link #TILE_FLOATS}
     * key values, so that the reductions and calls of each query head are shared by that many keys): their keys
     * for one KV head as columns (so that a query scores the keys a vector at a time; page by page as the pages
     * store them where a page fills whole vectors, else the whole tile's), their values (as rows, or
     * as columns too for a head narrower than half a vector, whose rows would leave most lanes idle), each slot's
     * position and visibility, and one query head's scores, then weights. Tile slot {@code k * pageSize + slot}
     * is slot {@code slot} of the tile's k-th page.
     */
    private final class Tile {
        /** This tile's index in {@link #tiles}. */
        final int index;
        /** Pages a tile holds. */
        final int capacity;
        final float[] keys;
        /** The keys in column blocks of {@link #keyBlockWidth} slots ({@link VectorMath#maskedColumnDots}). */
        final float[] keyColumns;
        /** Whether the pages' key columns are scored where they are converted, a page per block. */
        final boolean keysInPlace;
        int keyBlockWidth;
        final float[] values;
        /** Whether the values are weighted as columns ({@link #valueColumns}) rather than rows. */
        final boolean valuesByColumn;
        final float[] valueColumns;
        /** A vector's worth of scratch for {@link VectorMath#addWeightedColumns}. */
        final float[] lanes = new float[VectorMath.lanes()];
        final float[] scores;
        /** Where each tile slot's value row starts in {@link #values}. */
        final int[] rowStarts;
        final int[] positions;
        final int[] visibleUntil;
        /** 0 for a live slot, -infinity for a free one: the mask of a query that sees every live slot. */
        final float[] liveMask;
        /** The mask of a query that sees part of the tile. */
        final float[] queryMask;
        /** The tile's first page (its index in the layer's table), its pages, and its slots. */
        int firstPage;
        int pages;
        int width;
        int liveCount;
        int lastPosition;
        int firstHiding;
        /** Set by {@link #maskFor}: slots the query sees, and how many of them are before it. */
        int visible;
        int earlier;

        Tile(int index, int pageSize, int headDim) {
            this.index = index;
            capacity = tilePages(pageSize, headDim);
            int slots = capacity * pageSize;
            keys = new float[slots * headDim];
            keyColumns = new float[slots * headDim];
            keysInPlace = memory.keysByColumn() && pageSize % VectorMath.lanes() == 0;
            values = new float[slots * headDim];
            valuesByColumn = memory.valuesByColumn();
            valueColumns = new float[valuesByColumn ? slots * headDim : 0];
            scores = new float[slots];
            rowStarts = new int[slots];
            for (int slot = 0; slot < slots; slot++) {
                rowStarts[slot] = slot * headDim;
            }
            positions = new int[slots];
            visibleUntil = new int[slots];
            liveMask = new float[slots];
            queryMask = new float[slots];
        }

        private long liveSlots(int k) {
            return pool.liveSlots(block.pages.get(firstPage + k));
        }

        /**
         * Takes the pages from index {@code firstPage} of the block's layer table, up to {@code endPage}: reads their
         * slots' positions and visibility. Their keys and values are then loaded KV head by KV head.
         */
        void loadSlots(int firstPage, int endPage) {
            this.firstPage = firstPage;
            int pageSize = pool.pageSize();
            pages = Math.min(capacity, endPage - firstPage);
            width = pages * pageSize;
            Arrays.fill(liveMask, 0, width, Float.NEGATIVE_INFINITY);
            lastPosition = Integer.MIN_VALUE;
            firstHiding = Integer.MAX_VALUE;
            liveCount = 0;
            for (int k = 0; k < pages; k++) {
                int page = block.pages.get(firstPage + k);
                long bits = pool.liveSlots(page);
                liveCount += Long.bitCount(bits);
                for (; bits != 0; bits &= bits - 1) {
                    int slot = Long.numberOfTrailingZeros(bits);
                    int handle = page * pageSize + slot;
                    int at = k * pageSize + slot;
                    positions[at] = pool.position(handle);
                    visibleUntil[at] = pool.visibleUntil(handle);
                    liveMask[at] = 0;
                    lastPosition = Math.max(lastPosition, positions[at]);
                    firstHiding = Math.min(firstHiding, visibleUntil[at]);
                }
            }
        }

        /** Converts the tile's keys of one KV head into columns. */
        void loadKeys(int kvHead) {
            int pageSize = pool.pageSize();
            int headDim = geometry.headDim();
            float[] converted = keysInPlace ? keyColumns : keys;
            for (int k = 0; k < pages; k++) {
                memory.readKeys(block.pages.get(firstPage + k), kvHead, converted, k * pageSize * headDim);
            }
            keyBlockWidth = keysInPlace ? pageSize : width;
            if (!keysInPlace && memory.keysByColumn()) {
                joinPageColumns(keys, keyColumns);
            } else if (!keysInPlace) {
                transpose(keys, keyColumns);
            }
        }

        /**
         * Converts the tile's values of one KV head. A free slot's values are zeroed: it gets weight 0, and what a
         * freed token left there (an F16 infinity, say) must not turn 0 into NaN.
         */
        void loadValues(int kvHead) {
            int pageSize = pool.pageSize();
            int headDim = geometry.headDim();
            for (int k = 0; k < pages; k++) {
                memory.readValues(block.pages.get(firstPage + k), kvHead, values, k * pageSize * headDim);
                for (long free = ~liveSlots(k) & (-1L >>> (64 - pageSize)); free != 0; free &= free - 1) {
                    int slot = Long.numberOfTrailingZeros(free);
                    if (valuesByColumn) {
                        for (int d = 0; d < headDim; d++) {
                            values[(k * headDim + d) * pageSize + slot] = 0f;
                        }
                    } else {
                        int at = k * pageSize + slot;
                        Arrays.fill(values, at * headDim, (at + 1) * headDim, 0f);
                    }
                }
            }
            if (valuesByColumn) {
                joinPageColumns(values, valueColumns);
            }
        }

        /**
         * The pages' columns (pageSize slots each, as the pages store them) into the tile's columns (value d of every
         * slot together).
         */
        private void joinPageColumns(float[] pageColumns, float[] columns) {
            int pageSize = pool.pageSize();
            int headDim = geometry.headDim();
            for (int k = 0; k < pages; k++) {
                for (int d = 0; d < headDim; d++) {
                    System.arraycopy(pageColumns, (k * headDim + d) * pageSize, columns, d * width + k * pageSize, pageSize);
                }
            }
        }

        /** Rows of the tile's slots (headDim values each) into columns (value d of every slot together). */
        private void transpose(float[] rows, float[] columns) {
            int headDim = geometry.headDim();
            for (int slot = 0; slot < width; slot++) {
                for (int d = 0; d < headDim; d++) {
                    columns[d * width + slot] = rows[slot * headDim + d];
                }
            }
        }

        /** out[outOff .. + headDim) += the values weighted by {@link #scores}. */
        void addWeightedValues(float[] out, int outOff) {
            if (valuesByColumn) {
                VectorMath.addWeightedColumns(scores, valueColumns, width, geometry.headDim(), lanes, out, outOff);
            } else {
                VectorMath.addWeightedRows(scores, 0, values, rowStarts, width, geometry.headDim(), out, outOff);
            }
        }

        /**
         * The mask of the query at {@code queryPosition}: it sees a token at or before its position that is not
         * yet hidden from it. Sets {@link #visible} and {@link #earlier}.
         */
        float[] maskFor(int queryPosition) {
            if (lastPosition < queryPosition && queryPosition < firstHiding) {
                visible = liveCount;
                earlier = liveCount;
                return liveMask;
            }
            Arrays.fill(queryMask, 0, width, Float.NEGATIVE_INFINITY);
            visible = 0;
            earlier = 0;
            for (int k = 0; k < pages; k++) {
                for (long bits = liveSlots(k); bits != 0; bits &= bits - 1) {
                    int at = k * pool.pageSize() + Long.numberOfTrailingZeros(bits);
                    if (positions[at] <= queryPosition && queryPosition < visibleUntil[at]) {
                        queryMask[at] = 0;
                        visible++;
                        if (positions[at] < queryPosition) {
                            earlier++;
                        }
                    }
                }
            }
            return queryMask;
        }
    }

    private void prepareBuffers(int pages, int count, int states, boolean weights) {
        int rows = count * geometry.heads();
        if (runningMax.length < rows) {
            runningMax = new float[rows];
            runningSum = new float[rows];
        }
        if (rangeEarlier.length < states) {
            rangeEarlier = new int[states];
            rangeMax = new float[states * geometry.heads()];
            rangeSum = new float[states * geometry.heads()];
            rangeValues = new float[states * geometry.heads() * geometry.headDim()];
        }
        int slots = pages * pool.pageSize();
        if (weights) {
            if (weightSums[0].length < slots) {
                weightSums = new float[geometry.heads()][Math.max(slots, 2 * weightSums[0].length)];
            }
            for (float[] row : weightSums) {
                Arrays.fill(row, 0, slots, 0f);
            }
        }
        if (visibleEarlier.length < count) {
            visibleEarlier = new int[count];
        }
    }

    /** Adds the head-averaged weights recorded per page slot to the positions they belong to. */
    private void addWeights(Layer table, AttentionWeights weights) {
        float perHead = 1f / geometry.heads();
        int pageSize = pool.pageSize();
        for (int p = 0; p < table.pages.size(); p++) {
            int page = table.pages.get(p);
            for (long bits = pool.liveSlots(page); bits != 0; bits &= bits - 1) {
                int slot = Long.numberOfTrailingZeros(bits);
                float sum = 0;
                for (float[] row : weightSums) {
                    sum += row[p * pageSize + slot];
                }
                weights.byPosition()[pool.position(page * pageSize + slot)] += sum * perHead;
            }
        }
    }

    @Override
    public int tokens(int layer) {
        return layers[layer].tokens;
    }

    /** Pages a layer holds. */
    public int pageCount(int layer) {
        return layers[layer].pages.size();
    }

    /** Whether a layer holds the token at {@code position}. */
    public boolean holds(int layer, int position) {
        return layers[layer].slot(position) >= 0;
    }

    /** The positions a layer holds, ascending. */
    public int[] positions(int layer) {
        Layer table = layers[layer];
        int[] positions = new int[table.tokens];
        for (int position = 0, n = 0; n < positions.length; position++) {
            if (table.slotOfPosition[position] >= 0) {
                positions[n++] = position;
            }
        }
        return positions;
    }

    /** Reads back the stored key and value (kvDim floats each) of the token at {@code position}. */
    public void read(int layer, int position, float[] k, float[] v) {
        int handle = handleOf(layer, position);
        memory.read(handle / pool.pageSize(), handle % pool.pageSize(), k, v);
    }

    /** A copy of this sequence in the same pool, holding new pages with the same contents. */
    public PagedKvCache fork() {
        PagedKvCache copy = new PagedKvCache(pool, geometry);
        copy.length = length;
        int pageSize = pool.pageSize();
        try {
            for (int l = 0; l < layers.length; l++) {
                Layer from = layers[l];
                Layer to = copy.layers[l];
                to.earlierPairs = from.earlierPairs;
                to.visiblePairs = from.visiblePairs;
                for (int p = 0; p < from.pages.size(); p++) {
                    int source = from.pages.get(p);
                    int page = copy.acquirePage(l, 0);
                    pool.copyPage(source, page);
                    for (long bits = pool.liveSlots(page); bits != 0; bits &= bits - 1) {
                        int handle = page * pageSize + Long.numberOfTrailingZeros(bits);
                        to.put(pool.position(handle), handle);
                    }
                    if (!pool.isFull(page)) {
                        addIndexed(to.pagesWithFreeSlots, page, false);
                    }
                }
            }
        } catch (KvCacheFullException e) {
            copy.clear();
            throw e;
        }
        return copy;
    }

    /** Returns every page to the pool. */
    @Override
    public void clear() {
        length = 0;
        for (Layer table : layers) {
            for (int p = 0; p < table.pages.size(); p++) {
                pool.release(table.pages.get(p));
            }
            table.pages.clear();
            table.pagesWithFreeSlots.clear();
            Arrays.fill(table.slotOfPosition, -1);
            table.tokens = 0;
            table.earlierPairs = 0;
            table.visiblePairs = 0;
        }
    }

    @Override
    public long bytesHeld() {
        long pages = 0;
        for (Layer table : layers) {
            pages += table.pages.size();
        }
        return pages * pool.pageBytes();
    }

    /** Live slots of each page a layer holds (every entry is at least 1: empty pages go back to the pool). */
    public int[] pageOccupancy(int layer) {
        MutableIntList pages = layers[layer].pages;
        int[] occupancy = new int[pages.size()];
        for (int p = 0; p < occupancy.length; p++) {
            occupancy[p] = Long.bitCount(pool.liveSlots(pages.get(p)));
        }
        return occupancy;
    }

    /** Occupancy of one layer: live tokens, pages, free slots inside held pages, bytes, dense-equivalent bytes. */
    public LayerStats stats(int layer) {
        Layer table = layers[layer];
        int pages = table.pages.size();
        int live = table.tokens;
        long denseBytes = (long) length * pool.pageBytes() / pool.pageSize();
        double sparsity = table.earlierPairs == 0 ? 0 : 1 - (double) table.visiblePairs / table.earlierPairs;
        return new LayerStats(live, pages, pages * pool.pageSize() - live, pages * pool.pageBytes(), length, denseBytes,
                sparsity);
    }

    /**
     * What one layer holds.
     *
     * @param sequenceLength tokens the sequence has seen: what a dense cache would hold in this layer
     * @param denseBytes     the bytes a dense cache of the same storage type would hold for this layer
     * @param sparsity       the fraction of (query, earlier token) pairs whose token was no longer visible
     *                       (dcp.md section 6), over every query this layer has answered
     */
    public record LayerStats(int liveTokens, int pages, int freeSlots, long bytes, int sequenceLength, long denseBytes,
                             double sparsity) {
        /** Fraction of the sequence's tokens this layer still holds. */
        public double keptFraction() {
            return sequenceLength == 0 ? 1 : (double) liveTokens / sequenceLength;
        }
    }

    private int handleOf(int layer, int position) {
        int handle = layers[layer].slot(position);
        if (handle < 0) {
            throw new IllegalArgumentException("layer %d does not hold position %d".formatted(layer, position));
        }
        return handle;
    }

    private int takeSlot(int layer, int position) {
        Layer table = layers[layer];
        int page = table.pagesWithFreeSlots.isEmpty()
                ? acquirePage(layer, position)
                : table.pagesWithFreeSlots.getLast();
        int handle = pool.occupyFreeSlot(page, position);
        if (pool.isFull(page)) {
            removeFromFreeList(table, page);
        } else if (pool.freeIndex(page) < 0) {
            addIndexed(table.pagesWithFreeSlots, page, false);
        }
        return handle;
    }

    private int acquirePage(int layer, int position) {
        int page = pool.acquire();
        if (page < 0) {
            throw new KvCacheFullException(("KV cache full: layer %d needs a new page for the token at position %d, but all %d pages "
                    + "of the budget (%,d bytes, %d token slots each) are held; this sequence holds %d tokens in that layer. "
                    + "Raise --kv-budget, shorten the context (--ctx, -n), or enable pruning (--prune).")
                    .formatted(layer, position, pool.maxPages(), pool.maxPages() * pool.pageBytes(), pool.pageSize(),
                            tokens(layer)));
        }
        addIndexed(layers[layer].pages, page, true);
        return page;
    }

    private void removeFromFreeList(Layer table, int page) {
        if (pool.freeIndex(page) >= 0) {
            removeIndexed(table.pagesWithFreeSlots, page, false);
        }
    }

    /** Appends {@code page} to a layer's list of held pages (or of pages with free slots), recording its index. */
    private void addIndexed(MutableIntList list, int page, boolean held) {
        setIndex(page, held, list.size());
        list.add(page);
    }

    /** Removes {@code page} from its list in O(1) by moving the last element into its place. */
    private void removeIndexed(MutableIntList list, int page, boolean held) {
        int at = held ? pool.tableIndex(page) : pool.freeIndex(page);
        int last = list.removeAtIndex(list.size() - 1);
        if (last != page) {
            list.set(at, last);
            setIndex(last, held, at);
        }
        setIndex(page, held, -1);
    }

    private void setIndex(int page, boolean held, int index) {
        if (held) {
            pool.setTableIndex(page, index);
        } else {
            pool.setFreeIndex(page, index);
        }
    }
}
