package dev.winnow.engine.tokenizer;

import java.util.Arrays;

/**
 * Finds the id of a token from its UTF-8 bytes given as a slice of a larger array, without building a
 * string per look-up: an open-addressing hash table over the token byte strings.
 */
final class PieceTable {
    private final byte[][] pieces;
    /** id + 1 of the token in each slot; 0 marks an empty slot. */
    private final int[] slots;
    private final int mask;

    /**
     * @param pieces   UTF-8 bytes of every token, indexed by id
     * @param included which ids may be found; when two included tokens have the same bytes the later id wins,
     *                 as in llama.cpp
     */
    PieceTable(byte[][] pieces, boolean[] included) {
        this.pieces = pieces;
        int capacity = Integer.highestOneBit(Math.max(2, pieces.length) * 2 - 1) << 1;
        this.slots = new int[capacity];
        this.mask = capacity - 1;
        for (int id = 0; id < pieces.length; id++) {
            if (included[id]) {
                slots[slotOf(pieces[id], 0, pieces[id].length)] = id + 1;
            }
        }
    }

    /** The id of the token spelled by {@code bytes[offset, offset + length)}, or -1. */
    int find(byte[] bytes, int offset, int length) {
        return slots[slotOf(bytes, offset, length)] - 1;
    }

    /** The slot holding these bytes, or the empty slot where they would go. */
    private int slotOf(byte[] bytes, int offset, int length) {
        int slot = hash(bytes, offset, length) & mask;
        while (true) {
            int entry = slots[slot];
            if (entry == 0 || Arrays.equals(pieces[entry - 1], 0, pieces[entry - 1].length,
                    bytes, offset, offset + length)) {
                return slot;
            }
            slot = (slot + 1) & mask;
        }
    }

    private static int hash(byte[] bytes, int offset, int length) {
        int h = 0x811C9DC5;
        for (int i = offset; i < offset + length; i++) {
            h = (h ^ bytes[i]) * 0x01000193;
        }
        return h ^ (h >>> 16);
    }
}
