package dev.winnow.engine.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.stream.IntStream;

import org.eclipse.collections.impl.list.mutable.primitive.IntArrayList;

/**
 * The SentencePiece tokenizer of Llama-family vocabularies ({@code tokenizer.ggml.model = "llama"}), producing the
 * same ids as llama.cpp. Encoding: cut out special tokens; for each text fragment, put a space in front of it
 * when it is the first one or follows a special token (if {@link Vocabulary#addSpacePrefix()}), write spaces as
 * U+2581, split into UTF-8 characters, then repeatedly merge the adjacent pair whose concatenation is a token
 * with the highest score (leftmost on ties), using a priority queue over a linked list of symbols. Symbols that
 * are not tokens are spelled as byte tokens {@code <0xNN>}, or as the unknown token without them.
 *
 * <p>Merges only ever form normal and user-defined tokens, as in SentencePiece (llama.cpp would also form control
 * or byte tokens whose text happens to occur in the input, which then decode to something else).
 */
public final class SentencePieceTokenizer extends VocabularyTokenizer {
    static final String MODEL = "llama";
    private static final char SPACE_MARK = '\u2581';

    private final PieceTable mergeable;
    private final int[] byteTokens = new int[256];

    public SentencePieceTokenizer(Vocabulary vocabulary) {
        super(vocabulary, text -> text.replace(SPACE_MARK, ' ').getBytes(StandardCharsets.UTF_8),
                vocabulary.addSpacePrefix());
        int size = vocabulary.size();
        byte[][] mergeableBytes = new byte[size][];
        Arrays.fill(byteTokens, -1);
        for (int id = 0; id < size; id++) {
            String text = vocabulary.tokens()[id];
            TokenType type = vocabulary.type(id);
            if (type == TokenType.NORMAL || type == TokenType.USER_DEFINED) {
                mergeableBytes[id] = text.getBytes(StandardCharsets.UTF_8);
            }
            if (type == TokenType.BYTE && byteTokens[Vocabulary.byteValue(text)] < 0) {
                byteTokens[Vocabulary.byteValue(text)] = id;
            }
        }
        mergeable = new PieceTable(mergeableBytes);
    }

    @Override
    public int[] encode(String text, boolean addBos, boolean parseSpecial) {
        IntArrayList ids = startEncoding(text, addBos);
        boolean afterSpecial = true;
        for (SpecialTokens.Fragment fragment : specialTokens.split(text, parseSpecial)) {
            if (fragment.isText()) {
                String piece = text.substring(fragment.start(), fragment.end());
                String prefixed = vocabulary.addSpacePrefix() && afterSpecial ? " " + piece : piece;
                encodeText(prefixed.replace(' ', SPACE_MARK).getBytes(StandardCharsets.UTF_8), ids);
                afterSpecial = false;
            } else {
                ids.add(fragment.token());
                afterSpecial = true;
            }
        }
        return ids.toArray();
    }

    /** Merges the UTF-8 characters of {@code bytes} into tokens and appends their ids. */
    private void encodeText(byte[] bytes, IntArrayList ids) {
        int[] symbols = SymbolMerge.merge(bytes, (start, leftLength, rightLength) -> {
            int id = mergeable.find(bytes, start, leftLength + rightLength);
            return id < 0 ? Float.NaN : vocabulary.score(id);
        });
        for (int i = 0; i < symbols.length; i += 2) {
            int id = mergeable.find(bytes, symbols[i], symbols[i + 1]);
            if (id >= 0) {
                ids.add(id);
            } else {
                addBytesOrUnknown(bytes, symbols[i], symbols[i + 1], ids);
            }
        }
    }

    private void addBytesOrUnknown(byte[] bytes, int start, int length, IntArrayList ids) {
        if (IntStream.range(start, start + length).allMatch(i -> byteTokens[bytes[i] & 0xFF] >= 0)) {
            for (int i = start; i < start + length; i++) {
                ids.add(byteTokens[bytes[i] & 0xFF]);
            }
        } else if (vocabulary.unk() >= 0) {
            ids.add(vocabulary.unk());
        } else {
            String character = new String(bytes, start, length, StandardCharsets.UTF_8);
            throw new TokenizerException("cannot encode '" + character + "' (U+" + Integer.toHexString(
                    character.codePointAt(0)).toUpperCase() + "): the vocabulary has no token for it, no byte "
                    + "tokens <0xNN> for all its bytes and no unknown token");
        }
    }
}
