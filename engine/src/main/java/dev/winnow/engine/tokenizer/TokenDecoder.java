package dev.winnow.engine.tokenizer;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Turns a stream of token ids back into text, one token at a time, emitting only whole characters. Tokens carry
 * bytes (a byte token {@code <0xNN>} carries one), so a character may be spread over several tokens: its bytes
 * wait here until it is complete. Bytes that can never form a character become U+FFFD rather than vanish.
 * Control tokens carry no text. With the space-prefix rule on, the one space that the tokenizer put in front of
 * the text is dropped again from the first text that follows the start of the stream or a BOS token, so that
 * decoding {@code encode(text, ...)} gives {@code text} back.
 *
 * <p>One decoder follows one stream; it is not thread-safe. Make a new one with {@link Tokenizer#decoder()}.
 */
public final class TokenDecoder {
    private final byte[][] pieceBytes;
    private final int bos;
    private final boolean dropPrefixSpace;
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPLACE)
            .onUnmappableCharacter(CodingErrorAction.REPLACE);
    /** Bytes received but not yet decoded (in read mode between calls: position 0, limit = end). */
    private ByteBuffer pending = ByteBuffer.allocate(64).flip();
    private CharBuffer chars = CharBuffer.allocate(64);
    private boolean atTextStart;

    /**
     * @param pieceBytes      the bytes each token id stands for (empty for tokens that decode to nothing)
     * @param bos             the BOS id, or -1
     * @param dropPrefixSpace whether the tokenizer adds a space in front of the text (SentencePiece)
     */
    TokenDecoder(byte[][] pieceBytes, int bos, boolean dropPrefixSpace) {
        this.pieceBytes = pieceBytes;
        this.bos = bos;
        this.dropPrefixSpace = dropPrefixSpace;
        this.atTextStart = dropPrefixSpace;
    }

    /**
     * The text that this token completes: possibly empty, never part of a character.
     *
     * @throws IllegalArgumentException if the id is not in the vocabulary
     */
    public String next(int tokenId) {
        if (tokenId < 0 || tokenId >= pieceBytes.length) {
            throw new IllegalArgumentException(
                    "token id " + tokenId + " is outside the vocabulary of " + pieceBytes.length + " tokens");
        }
        if (tokenId == bos) {
            atTextStart = dropPrefixSpace;
        }
        byte[] bytes = pieceBytes[tokenId];
        if (bytes.length == 0) {
            return "";
        }
        append(bytes, atTextStart && bytes[0] == ' ' ? 1 : 0);
        atTextStart = false;
        return decode(false);
    }

    /** The rest of the stream: the bytes of an unfinished character, as U+FFFD; then the decoder is empty. */
    public String flush() {
        String rest = decode(true);
        utf8.reset();
        return rest;
    }

    private void append(byte[] bytes, int from) {
        int length = bytes.length - from;
        if (pending.capacity() - pending.limit() < length) {
            ByteBuffer larger = ByteBuffer.allocate(Math.max(pending.capacity() * 2, pending.remaining() + length));
            larger.put(pending).flip();
            pending = larger;
        }
        int end = pending.limit();
        pending.limit(end + length);
        pending.put(end, bytes, from, length);
    }

    private String decode(boolean endOfInput) {
        if (chars.capacity() < pending.remaining() + 1) {
            chars = CharBuffer.allocate(pending.remaining() * 2 + 1);
        }
        chars.clear();
        utf8.decode(pending, chars, endOfInput);
        if (endOfInput) {
            utf8.flush(chars);
        }
        pending.compact().flip();
        return chars.flip().toString();
    }
}
