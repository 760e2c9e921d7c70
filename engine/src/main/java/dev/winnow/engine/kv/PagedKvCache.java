package dev.winnow.engine.kv;

import dev.winnow.tensors.FloatTensor;
import dev.winnow.tensors.Quantize;
import dev.winnow.tensors.VectorMath;
import dev.winnow.tensors.WorkerPool;
import org.eclipse.collections.api.list.primitive.MutableIntList;
import org.eclipse.collections.api.map.primitive.MutableIntIntMap;
import org.eclipse.collections.impl.list.mutable.primitive.IntArrayList;
import org.eclipse.collections.impl.map.mutable.primitive.IntIntHashMap;

import java.util.Arrays;

/**
 * One sequence's KV cache over a shared {@link PagePool}. Each layer has its own page table, so layers may hold
 * different tokens. Storing a token takes a free slot in one of the layer's pages if there is one, else a new
 * page; dropping a token frees its slot at once, and a page whose last slot is freed goes back to the pool. Both
 * are O(1). Keys are stored after RoPE at their true positions, so slot order does not matter to attention.
 */
public final class PagedKvCache implements KvCache {
    private final PagePool pool;
    private final KvGeometry geometry;
    private final Layer[] layers;
    /** Per query head: the running attention sum and one dequantized value row. */
    private final float[][] accumulators;
    private final float[][] valueRows;
    private final float scale;
    /** One past the highest position ever stored: the length of the sequence as a dense cache would see it. */
    private int length;

    /** A layer's page table. */
    private static final class Layer {
        /** Pages held, in no particular order; {@code pool.tableIndex[page]} is the index here. */
        final MutableIntList pages = new IntArrayList();
        /** Held pages with at least one free slot; {@code pool.freeIndex[page]} is the index here. */
        final MutableIntList pagesWithFreeSlots = new IntArrayList();
        /** Token position to slot handle (page * pageSize + slot). */
        final MutableIntIntMap slotOfPosition = new IntIntHashMap();
    }

    public PagedKvCache(PagePool pool, KvGeometry geometry) {
        this.pool = pool;
        this.geometry = geometry;
        this.layers = new Layer[geometry.layers()];
        for (int l = 0; l < layers.length; l++) {
            layers[l] = new Layer();
        }
        this.accumulators = new float[geometry.heads()][geometry.headDim()];
        this.valueRows = new float[geometry.heads()][geometry.headDim()];
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
        for (int i = 0; i < count; i++) {
            int position = firstPosition + i;
            Layer table = layers[layer];
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
            table.slotOfPosition.put(position, handle);
            length = Math.max(length, position + 1);
        }
    }

    /** Frees the slot of the token at {@code position} in one layer; false if the layer does not hold it. */
    public boolean drop(int layer, int position) {
        Layer table = layers[layer];
        if (!table.slotOfPosition.containsKey(position)) {
            return false;
        }
        int handle = table.slotOfPosition.removeKeyIfAbsent(position, -1);
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

    @Override
    public void attend(int layer, float[] q, float[] out, int firstPosition, int count, WorkerPool workers) {
        Layer table = layers[layer];
        int headDim = geometry.headDim();
        int queryDim = geometry.heads() * headDim;
        int group = geometry.groupSize();
        int kvHeads = geometry.kvHeads();
        int pageSize = pool.pageSize();
        workers.parallelFor(geometry.heads(), (firstHead, endHead) -> {
            for (int h = firstHead; h < endHead; h++) {
                float[] acc = accumulators[h];
                float[] valueRow = valueRows[h];
                int kvHead = h / group;
                for (int i = 0; i < count; i++) {
                    int qOffset = i * queryDim + h * headDim;
                    int queryPosition = firstPosition + i;
                    // Online softmax: one pass over the live slots, rescaling when a larger score appears.
                    float max = Float.NEGATIVE_INFINITY;
                    float sum = 0;
                    Arrays.fill(acc, 0f);
                    for (int p = 0, n = table.pages.size(); p < n; p++) {
                        int page = table.pages.get(p);
                        FloatTensor keys = pool.keys(page);
                        FloatTensor values = pool.values(page);
                        for (long bits = pool.live[page]; bits != 0; bits &= bits - 1) {
                            int slot = Long.numberOfTrailingZeros(bits);
                            if (pool.positions[page * pageSize + slot] > queryPosition) {
                                continue;
                            }
                            int row = slot * kvHeads + kvHead;
                            float score = keys.dotRow(row, q, qOffset) * scale;
                            if (score > max) {
                                float correction = (float) Math.exp(max - score);
                                VectorMath.scale(acc, 0, headDim, correction);
                                sum *= correction;
                                max = score;
                            }
                            float weight = (float) Math.exp(score - max);
                            sum += weight;
                            values.dequantizeRow(row, valueRow, 0);
                            VectorMath.axpy(weight, valueRow, 0, acc, 0, headDim);
                        }
                    }
                    float inverse = 1 / sum;
                    for (int d = 0; d < headDim; d++) {
                        out[qOffset + d] = acc[d] * inverse;
                    }
                }
            }
        });
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
        int handle = layers[layer].slotOfPosition.getIfAbsent(position, -1);
        if (handle < 0) {
            throw new IllegalArgumentException("layer %d does not hold position %d".formatted(layer, position));
        }
        int page = handle / pool.pageSize();
        int slot = handle % pool.pageSize();
        for (int g = 0; g < geometry.kvHeads(); g++) {
            int row = slot * geometry.kvHeads() + g;
            pool.keys(page).dequantizeRow(row, k, g * geometry.headDim());
            pool.values(page).dequantizeRow(row, v, g * geometry.headDim());
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
                for (int p = 0; p < from.pages.size(); p++) {
                    int source = from.pages.get(p);
                    int page = copy.acquirePage(l, 0);
                    pool.segment(page).copyFrom(pool.segment(source));
                    pool.live[page] = pool.live[source];
                    for (long bits = pool.live[source]; bits != 0; bits &= bits - 1) {
                        int slot = Long.numberOfTrailingZeros(bits);
                        int position = pool.positions[source * pageSize + slot];
                        pool.positions[page * pageSize + slot] = position;
                        to.slotOfPosition.put(position, page * pageSize + slot);
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

    /** Occupancy of one layer: live tokens, pages, free slots inside held pages, bytes, dense-equivalent bytes. */
    public LayerStats stats(int layer) {
        Layer table = layers[layer];
        int pages = table.pages.size();
        int live = table.slotOfPosition.size();
        long denseBytes = (long) length * pool.pageBytes() / pool.pageSize();
        return new LayerStats(live, pages, pages * pool.pageSize() - live, pages * pool.pageBytes(), length, denseBytes);
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

    /**
     * What one layer holds.
     *
     * @param sequenceLength tokens the sequence has seen: what a dense cache would hold in this layer
     * @param denseBytes     the bytes a dense cache of the same storage type would hold for this layer
     */
    public record LayerStats(int liveTokens, int pages, int freeSlots, long bytes, int sequenceLength, long denseBytes) {
        /** Fraction of the sequence's tokens this layer still holds. */
        public double keptFraction() {
            return sequenceLength == 0 ? 1 : (double) liveTokens / sequenceLength;
        }
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
