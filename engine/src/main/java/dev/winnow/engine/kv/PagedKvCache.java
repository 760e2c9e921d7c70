package dev.winnow.engine.kv;

import dev.winnow.tensors.VectorMath;
import dev.winnow.tensors.WorkerPool;
import org.eclipse.collections.api.list.primitive.MutableIntList;
import org.eclipse.collections.impl.list.mutable.primitive.IntArrayList;

import java.util.Arrays;

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

    private final PagePool pool;
    private final PageMemory memory;
    private final KvGeometry geometry;
    private final LiveTokens cursor = new LiveTokens();
    /** {@link #attendHeads} as a task, made once: a call to {@link #attend} allocates nothing. */
    private final WorkerPool.RangeTask headAttention = this::attendHeads;
    /** The arguments of the {@link #attend} call in progress, read by {@link #attendHeads}. */
    private Layer block;
    private float[] blockQueries;
    private float[] blockOutput;
    private int blockStart;
    private int blockCount;
    private AttentionWeights blockWeights;
    private final Layer[] layers;
    private final float scale;
    /** Per query head: attention scores of the visited slots, then their weights. */
    private float[][] scores;
    /** Per query head: summed weights of the visited slots, when attention weights were asked for. */
    private float[][] weightSums;
    /** Per KV head: one page's keys and values converted to floats, and the maxima of its query heads' scores. */
    private final float[][] keyBlocks;
    private final float[][] valueBlocks;
    private final float[][] maxima;
    /**
     * Per KV head, for the slots of one page that a query uses: where each one's key or value starts in the
     * page's block, its index among the layer's scores, and its score or weight for one query head.
     */
    private final int[][] slotStarts;
    private final int[][] slotIndexes;
    private final float[][] slotValues;
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
        this.scores = new float[geometry.heads()][16];
        this.weightSums = new float[geometry.heads()][16];
        this.keyBlocks = new float[geometry.kvHeads()][pool.pageSize() * geometry.headDim()];
        this.valueBlocks = new float[geometry.kvHeads()][pool.pageSize() * geometry.headDim()];
        this.maxima = new float[geometry.kvHeads()][geometry.groupSize()];
        this.slotStarts = new int[geometry.kvHeads()][pool.pageSize()];
        this.slotIndexes = new int[geometry.kvHeads()][pool.pageSize()];
        this.slotValues = new float[geometry.kvHeads()][pool.pageSize()];
        this.scale = (float) (1.0 / Math.sqrt(geometry.headDim()));
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
        prepareBuffers(live, count, weights != null);
        block = table;
        blockQueries = q;
        blockOutput = out;
        blockStart = firstPosition;
        blockCount = count;
        blockWeights = weights;
        if ((long) live * geometry.heads() * geometry.headDim() * count < PARALLEL_WORK_THRESHOLD) {
            attendHeads(0, geometry.kvHeads());
        } else {
            workers.parallelFor(geometry.kvHeads(), headAttention);
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
     * The attention of the block of {@link #attend} for KV heads [firstKvHead, endKvHead): each key and value row
     * is read (and converted) once for all the query heads of its group.
     */
    private void attendHeads(int firstKvHead, int endKvHead) {
        Layer table = block;
        float[] q = blockQueries;
        float[] out = blockOutput;
        int firstPosition = blockStart;
        int count = blockCount;
        AttentionWeights weights = blockWeights;
        float[][] scoreRows = scores;
        float[][] weightRows = weightSums;
        int[] visible = visibleEarlier;
        int headDim = geometry.headDim();
        int queryDim = geometry.heads() * headDim;
        int group = geometry.groupSize();
        int pageSize = pool.pageSize();
        for (int kvHead = firstKvHead; kvHead < endKvHead; kvHead++) {
            float[] keyBlock = keyBlocks[kvHead];
            float[] valueBlock = valueBlocks[kvHead];
            int[] starts = slotStarts[kvHead];
            int[] indexes = slotIndexes[kvHead];
            float[] values = slotValues[kvHead];
            int firstHead = kvHead * group;
            for (int i = 0; i < count; i++) {
                int queryPosition = firstPosition + i;
                int qBase = i * queryDim;
                // Pass 1: scores of the visible slots (in page order; invisible ones score -inf), and their max.
                // A page's visible keys are scored together (VectorMath.dots: each score as dot gives it).
                Arrays.fill(maxima[kvHead], Float.NEGATIVE_INFINITY);
                float[] max = maxima[kvHead];
                int n = 0;
                int earlier = 0;
                for (int p = 0, pages = table.pages.size(); p < pages; p++) {
                    int page = table.pages.get(p);
                    memory.readKeys(page, kvHead, keyBlock);
                    int seen = 0;
                    for (long bits = pool.liveSlots(page); bits != 0; bits &= bits - 1, n++) {
                        int slot = Long.numberOfTrailingZeros(bits);
                        int handle = page * pageSize + slot;
                        int position = pool.position(handle);
                        if (position > queryPosition || queryPosition >= pool.visibleUntil(handle)) {
                            for (int h = 0; h < group; h++) {
                                scoreRows[firstHead + h][n] = Float.NEGATIVE_INFINITY;
                            }
                            continue;
                        }
                        if (position < queryPosition) {
                            earlier++;
                        }
                        starts[seen] = slot * headDim;
                        indexes[seen++] = n;
                    }
                    for (int h = 0; h < group; h++) {
                        VectorMath.dots(q, qBase + (firstHead + h) * headDim, keyBlock, starts, seen, headDim, values, 0);
                        float[] row = scoreRows[firstHead + h];
                        float headMax = max[h];
                        for (int j = 0; j < seen; j++) {
                            float score = values[j] * scale;
                            row[indexes[j]] = score;
                            headMax = Math.max(headMax, score);
                        }
                        max[h] = headMax;
                    }
                }
                if (kvHead == 0) {
                    visible[i] = earlier;
                }
                // Pass 2: weights, max-subtracted so that no exponent overflows.
                for (int h = 0; h < group; h++) {
                    float[] s = scoreRows[firstHead + h];
                    float sum = VectorMath.expShifted(s, 0, n, max[h]);
                    VectorMath.scale(s, 0, n, 1f / sum);
                    int outOffset = qBase + (firstHead + h) * headDim;
                    Arrays.fill(out, outOffset, outOffset + headDim, 0f);
                }
                // Pass 3: the weighted sum of the visible values, a page's at once for each query head
                // (VectorMath.addWeightedRows: the sums axpy slot after slot would give). A slot whose weight
                // is 0 for every head of the group is skipped.
                boolean record = weights != null && (!weights.lastQueryOnly() || i == count - 1);
                int t = 0;
                for (int p = 0, pages = table.pages.size(); p < pages; p++) {
                    int page = table.pages.get(p);
                    memory.readValues(page, kvHead, valueBlock);
                    int used = 0;
                    for (long bits = pool.liveSlots(page); bits != 0; bits &= bits - 1, t++) {
                        if (scoreRows[firstHead][t] == 0 && allZero(scoreRows, firstHead, group, t)) {
                            continue;
                        }
                        starts[used] = Long.numberOfTrailingZeros(bits) * headDim;
                        indexes[used++] = t;
                    }
                    for (int h = 0; h < group; h++) {
                        float[] w = scoreRows[firstHead + h];
                        for (int j = 0; j < used; j++) {
                            values[j] = w[indexes[j]];
                        }
                        VectorMath.addWeightedRows(values, 0, valueBlock, starts, used, headDim, out,
                                qBase + (firstHead + h) * headDim);
                        if (record) {
                            for (int j = 0; j < used; j++) {
                                weightRows[firstHead + h][indexes[j]] += values[j];
                            }
                        }
                    }
                }
            }
        }
    }

    private static boolean allZero(float[][] rows, int first, int count, int t) {
        for (int h = 0; h < count; h++) {
            if (rows[first + h][t] != 0) {
                return false;
            }
        }
        return true;
    }

    private void prepareBuffers(int live, int count, boolean weights) {
        if (scores[0].length < live) {
            int grown = Math.max(live, 2 * scores[0].length);
            scores = new float[geometry.heads()][grown];
            weightSums = new float[geometry.heads()][grown];
        }
        if (weights) {
            for (float[] row : weightSums) {
                Arrays.fill(row, 0, live, 0f);
            }
        }
        if (visibleEarlier.length < count) {
            visibleEarlier = new int[count];
        }
    }

    /** Adds the head-averaged weights recorded per visited slot to the positions they belong to. */
    private void addWeights(Layer table, AttentionWeights weights) {
        float perHead = 1f / geometry.heads();
        int t = 0;
        for (int p = 0; p < table.pages.size(); p++) {
            int page = table.pages.get(p);
            for (long bits = pool.liveSlots(page); bits != 0; bits &= bits - 1, t++) {
                float sum = 0;
                for (float[] row : weightSums) {
                    sum += row[t];
                }
                int position = pool.position(page * pool.pageSize() + Long.numberOfTrailingZeros(bits));
                weights.byPosition()[position] += sum * perHead;
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
