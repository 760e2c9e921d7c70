package dev.winnow.engine.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.PriorityQueue;

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
        byte[][] textBytes = new byte[size][];
        boolean[] canMerge = new boolean[size];
        Arrays.fill(byteTokens, -1);
        for (int id = 0; id < size; id++) {
            String text = vocabulary.tokens()[id];
            TokenType type = vocabulary.type(id);
            textBytes[id] = text.getBytes(StandardCharsets.UTF_8);
            canMerge[id] = type == TokenType.NORMAL || type == TokenType.USER_DEFINED;
            if (type == TokenType.BYTE && byteTokens[Vocabulary.byteValue(text)] < 0) {
                byteTokens[Vocabulary.byteValue(text)] = id;
            }
        }
        mergeable = new PieceTable(textBytes, canMerge);
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
        // Symbols: byte ranges [start, start + length) in a doubly linked list; a merged-away symbol has length 0.
        int[] start = new int[bytes.length];
        int[] length = new int[bytes.length];
        int[] previous = new int[bytes.length];
        int[] next = new int[bytes.length];
        int count = 0;
        for (int offset = 0; offset < bytes.length; count++) {
            int characterLength = Math.min(utf8Length(bytes[offset]), bytes.length - offset);
            start[count] = offset;
            length[count] = characterLength;
            previous[count] = count - 1;
            offset += characterLength;
            next[count] = offset == bytes.length ? -1 : count + 1;
        }
        if (count == 0) {
            return;
        }
        PriorityQueue<Bigram> queue = new PriorityQueue<>();
        for (int right = 1; right < count; right++) {
            offerMerge(bytes, start, length, right - 1, right, queue);
        }
        while (!queue.isEmpty()) {
            Bigram best = queue.poll();
            int left = best.left();
            int right = best.right();
            if (length[left] == 0 || length[right] == 0 || length[left] + length[right] != best.size()) {
                continue; // one side was merged into something else since this pair was offered
            }
            length[left] += length[right];
            length[right] = 0;
            next[left] = next[right];
            if (next[right] >= 0) {
                previous[next[right]] = left;
            }
            offerMerge(bytes, start, length, previous[left], left, queue);
            offerMerge(bytes, start, length, left, next[left], queue);
        }
        for (int symbol = 0; symbol >= 0; symbol = next[symbol]) {
            int id = mergeable.find(bytes, start[symbol], length[symbol]);
            if (id >= 0) {
                ids.add(id);
            } else {
                addBytesOrUnknown(bytes, start[symbol], length[symbol], ids);
            }
        }
    }

    private void offerMerge(byte[] bytes, int[] start, int[] length, int left, int right, PriorityQueue<Bigram> queue) {
        if (left < 0 || right < 0) {
            return;
        }
        int size = length[left] + length[right];
        int id = mergeable.find(bytes, start[left], size);
        if (id >= 0) {
            queue.add(new Bigram(vocabulary.score(id), left, right, size));
        }
    }

    private void addBytesOrUnknown(byte[] bytes, int start, int length, IntArrayList ids) {
        boolean spellable = true;
        for (int i = start; i < start + length; i++) {
            spellable &= byteTokens[bytes[i] & 0xFF] >= 0;
        }
        if (spellable) {
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

    /** The length of the UTF-8 sequence that starts with this byte; 1 for a byte that cannot start one. */
    private static int utf8Length(byte lead) {
        int high = (lead & 0xFF) >>> 4;
        return switch (high) {
            case 0xC, 0xD -> 2;
            case 0xE -> 3;
            case 0xF -> 4;
            default -> 1;
        };
    }
}
