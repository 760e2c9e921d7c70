package dev.winnow.engine.tokenizer;

import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;

/**
 * Finds the id of a token from its UTF-8 bytes given as a slice of a larger array, without building a string per
 * look-up: the slice is wrapped, and a byte buffer hashes and compares by content.
 */
final class PieceTable {
    private final Map<ByteBuffer, Integer> ids = new HashMap<>();

    /**
     * @param pieces UTF-8 bytes of every token, indexed by id; null for a token that must not be found. When two
     *               tokens have the same bytes the later id wins, as in llama.cpp.
     */
    PieceTable(byte[][] pieces) {
        for (int id = 0; id < pieces.length; id++) {
            if (pieces[id] != null) {
                ids.put(ByteBuffer.wrap(pieces[id]), id);
            }
        }
    }

    /** The id of the token spelled by {@code bytes[offset, offset + length)}, or -1. */
    int find(byte[] bytes, int offset, int length) {
        return ids.getOrDefault(ByteBuffer.wrap(bytes, offset, length), -1);
    }
}
