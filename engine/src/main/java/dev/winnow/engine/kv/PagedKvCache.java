package dev.winnow.engine.kv;

import dev.winnow.tensors.FloatTensor;
import dev.winnow.tensors.Quantize;
import dev.winnow.tensors.VectorMath;
import dev.winnow.tensors.WorkerPool;
import org.eclipse.collections.api.list.primitive.MutableIntList;
import org.eclipse.collections.api.map.primitive.MutableIntIntMap;
import org.eclipse.collections.impl.list.mutable.primitive.IntArrayList;
import org.eclipse.collections.impl.map.mutable.primitive.IntIntHashMap;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * One sequence's KV cache over a shared {@link PagePool}. Each layer has its own page table, so layers may hold
 * different tokens. Storing a token takes a free slot in one of the layer's pages if there is one, else a new
 * page; dropping a token frees its slot at once, and a page whose last slot is freed goes back to the pool. Both
 * are O(1). Keys are stored after RoPE at their true positions, so slot order does not matter to attention.
 *
 * <p>Pruning works in two steps. While a block of tokens is processed, a policy may {@link #hideFrom hide} a
 * token from a query position on: queries at or after it no longer see the token (the keep mask inside a
 * block). After the block, {@link #commitDrops} frees every hidden token's slot for good.
 */
public final class PagedKvCache implements KvCache {
    /** Below this many multiply-adds, handing KV heads to other threads costs more than it saves. */
    private static final long PARALLEL_WORK_THRESHOLD = 1 << 15;

    private final PagePool pool;
    private final KvGeometry geometry;
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
        /** Pages held, in no particular order; {@code pool.tableIndex[page]} is the index here. */
        final MutableIntList pages = new IntArrayList();
        /** Held pages with at least one free slot; {@code pool.freeIndex[page]} is the index here. */
        final MutableIntList pagesWithFreeSlots = new IntArrayList();
        /** Token position to slot handle (page * pageSize + slot). */
        final MutableIntIntMap slotOfPosition = new IntIntHashMap();
        /** (query, earlier token) pairs seen, and how many of them were visible: dcp.md's sparsity. */
        long earlierPairs;
        long visiblePairs;
    }

    public PagedKvCache(PagePool pool, KvGeometry geometry) {
        this.pool = pool;
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
        int kvDim = geometry.kvDim();
        int headDim = geometry.headDim();
        Layer table = layers[layer];
        for (int i = 0; i < count; i++) {
            int position = firstPosition + i;
            if (table.slotOfPosition.containsKey(position)) {
                throw new IllegalStateException("layer %d already holds position %d".formatted(layer, position));
            }
            int handle = takeSlot(layer, position);
            int page = handle / pool.pageSize();
            int slot = handle % pool.pageSize();
            for (int g = 0; g < geometry.kvHeads(); g++) {
                int from = i * kvDim + g * headDim;
                Quantize.quantize(pool.storage(), k, from, headDim, pool.segment(page), pool.keyOffset(slot, g));
                Quantize.quantize(pool.storage(), v, from, headDim, pool.segment(page), pool.valueOffset(slot, g));
            }
            pool.positions[handle] = position;
            pool.visibleUntil[handle] = Integer.MAX_VALUE;
            table.slotOfPosition.put(position, handle);
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
            MemorySegment.copy(keys, i * r, pool.segment(handle / pool.pageSize()), ValueLayout.JAVA_FLOAT_UNALIGNED,
                    pool.interactionOffset(handle % pool.pageSize()), r);
        }
    }

    /** Frees the slot of the token at {@code position} in one layer; false if the layer does not hold it. */
    public boolean drop(int layer, int position) {
        Layer table = layers[layer];
        int handle = table.slotOfPosition.removeKeyIfAbsent(position, -1);
        if (handle < 0) {
            return false;
        }
        int page = handle / pool.pageSize();
        int slot = handle % pool.pageSize();
        pool.live[page] &= ~(1L << slot);
        if (pool.live[page] == 0) {
            removeFromFreeList(table, page);
            removeIndexed(table.pages, pool.tableIndex, page);
            pool.release(page);
        } else if (pool.freeIndex[page] < 0) {
            addIndexed(table.pagesWithFreeSlots, pool.freeIndex, page);
        }
        return true;
    }

    // ---- access for pruning policies: the layer's pages, their live slots, and hiding a token ----

    /** Pages a layer holds. */
    public int pageCount(int layer) {
        return layers[layer].pages.size();
    }

    /** The {@code index}-th page a layer holds (in no particular order). */
    public int page(int layer, int index) {
        return layers[layer].pages.get(index);
    }

    /** Live slots of a page, one bit per slot. */
    public long liveSlots(int page) {
        return pool.live[page];
    }

    /** Position of the token in a slot. */
    public int position(int page, int slot) {
        return pool.positions[page * pool.pageSize() + slot];
    }

    /** The interaction keys of a page's slots, one row per slot (r columns). */
    public FloatTensor interactionKeys(int page) {
        return pool.interactionKeys(page);
    }

    /** The first query position that no longer sees the token in a slot ({@link Integer#MAX_VALUE}: kept). */
    public int visibleUntil(int page, int slot) {
        return pool.visibleUntil[page * pool.pageSize() + slot];
    }

    /** Hides the token in a slot from query position {@code position} on (a drop decided at that step). */
    public void hideFrom(int page, int slot, int position) {
        int handle = page * pool.pageSize() + slot;
        pool.visibleUntil[handle] = Math.min(pool.visibleUntil[handle], position);
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
            for (long bits = pool.live[page]; bits != 0; bits &= bits - 1) {
                int slot = Long.numberOfTrailingZeros(bits);
                int handle = page * pageSize + slot;
                int step = pool.visibleUntil[handle];
                if (step <= lastPosition) {
                    int position = pool.positions[handle];
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
        int live = table.slotOfPosition.size();
        prepareBuffers(live, count, weights != null);
        float[][] scoreRows = scores;
        float[][] weightRows = weightSums;
        int[] visible = visibleEarlier;
        int headDim = geometry.headDim();
        int queryDim = geometry.heads() * headDim;
        int group = geometry.groupSize();
        int kvHeads = geometry.kvHeads();
        int pageSize = pool.pageSize();
        int[] positions = pool.positions;
        int[] visibleUntil = pool.visibleUntil;
        // One task per KV head: each key and value row is read (and converted) once for all the query heads
        // of its group.
        WorkerPool.RangeTask task = (firstKvHead, endKvHead) -> {
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
                        pool.keyBlock(page, kvHead).dequantizeRow(0, keyBlock, 0);
                        int seen = 0;
                        for (long bits = pool.live[page]; bits != 0; bits &= bits - 1, n++) {
                            int slot = Long.numberOfTrailingZeros(bits);
                            int handle = page * pageSize + slot;
                            int position = positions[handle];
                            if (position > queryPosition || queryPosition >= visibleUntil[handle]) {
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
                    boolean record = weights != null && i >= weights.fromQuery();
                    int t = 0;
                    for (int p = 0, pages = table.pages.size(); p < pages; p++) {
                        int page = table.pages.get(p);
                        pool.valueBlock(page, kvHead).dequantizeRow(0, valueBlock, 0);
                        int used = 0;
                        for (long bits = pool.live[page]; bits != 0; bits &= bits - 1, t++) {
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
        };
        if ((long) live * queryDim * count < PARALLEL_WORK_THRESHOLD) {
            task.run(0, kvHeads);
        } else {
            workers.parallelFor(kvHeads, task);
        }
        for (int i = 0; i < count; i++) {
            table.earlierPairs += firstPosition + i;
            table.visiblePairs += visible[i];
        }
        if (weights != null) {
            addWeights(table, weights);
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
            for (long bits = pool.live[page]; bits != 0; bits &= bits - 1, t++) {
                float sum = 0;
                for (float[] row : weightSums) {
                    sum += row[t];
                }
                int position = pool.positions[page * pool.pageSize() + Long.numberOfTrailingZeros(bits)];
                weights.byPosition()[position] += sum * perHead;
            }
        }
    }

    @Override
    public int tokens(int layer) {
        return layers[layer].slotOfPosition.size();
    }

    /** Whether a layer holds the token at {@code position}. */
    public boolean holds(int layer, int position) {
        return layers[layer].slotOfPosition.containsKey(position);
    }

    /** The positions a layer holds, ascending. */
    public int[] positions(int layer) {
        int[] positions = layers[layer].slotOfPosition.keySet().toArray();
        Arrays.sort(positions);
        return positions;
    }

    /** Reads back the stored key and value (kvDim floats each) of the token at {@code position}. */
    public void read(int layer, int position, float[] k, float[] v) {
        int handle = handleOf(layer, position);
        int page = handle / pool.pageSize();
        int slot = handle % pool.pageSize();
        int headDim = geometry.headDim();
        for (int g = 0; g < geometry.kvHeads(); g++) {
            Quantize.dequantize(pool.storage(), pool.segment(page), pool.keyOffset(slot, g), k, g * headDim, headDim);
            Quantize.dequantize(pool.storage(), pool.segment(page), pool.valueOffset(slot, g), v, g * headDim, headDim);
        }
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
                    pool.segment(page).copyFrom(pool.segment(source));
                    pool.live[page] = pool.live[source];
                    for (long bits = pool.live[source]; bits != 0; bits &= bits - 1) {
                        int slot = Long.numberOfTrailingZeros(bits);
                        pool.positions[page * pageSize + slot] = pool.positions[source * pageSize + slot];
                        pool.visibleUntil[page * pageSize + slot] = pool.visibleUntil[source * pageSize + slot];
                        to.slotOfPosition.put(pool.positions[source * pageSize + slot], page * pageSize + slot);
                    }
                    if (Long.bitCount(pool.live[page]) < pageSize) {
                        addIndexed(to.pagesWithFreeSlots, pool.freeIndex, page);
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
            table.pages.forEach(pool::release);
            table.pages.clear();
            table.pagesWithFreeSlots.clear();
            table.slotOfPosition.clear();
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
            occupancy[p] = Long.bitCount(pool.live[pages.get(p)]);
        }
        return occupancy;
    }

    /** Occupancy of one layer: live tokens, pages, free slots inside held pages, bytes, dense-equivalent bytes. */
    public LayerStats stats(int layer) {
        Layer table = layers[layer];
        int pages = table.pages.size();
        int live = table.slotOfPosition.size();
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
        int handle = layers[layer].slotOfPosition.getIfAbsent(position, -1);
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
        int slot = Long.numberOfTrailingZeros(~pool.live[page]);
        pool.live[page] |= 1L << slot;
        boolean full = Long.bitCount(pool.live[page]) == pool.pageSize();
        if (full) {
            removeFromFreeList(table, page);
        } else if (pool.freeIndex[page] < 0) {
            addIndexed(table.pagesWithFreeSlots, pool.freeIndex, page);
        }
        return page * pool.pageSize() + slot;
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
        addIndexed(layers[layer].pages, pool.tableIndex, page);
        return page;
    }

    private void removeFromFreeList(Layer table, int page) {
        if (pool.freeIndex[page] >= 0) {
            removeIndexed(table.pagesWithFreeSlots, pool.freeIndex, page);
        }
    }

    /** Appends {@code page} to {@code list}, recording its index. */
    private static void addIndexed(MutableIntList list, int[] index, int page) {
        index[page] = list.size();
        list.add(page);
    }

    /** Removes {@code page} from {@code list} in O(1) by moving the last element into its place. */
    private static void removeIndexed(MutableIntList list, int[] index, int page) {
        int at = index[page];
        int last = list.removeAtIndex(list.size() - 1);
        if (last != page) {
            list.set(at, last);
            index[last] = at;
        }
        index[page] = -1;
    }
}
