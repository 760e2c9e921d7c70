package dev.winnow.engine.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.eclipse.collections.impl.list.mutable.primitive.IntArrayList;
import org.eclipse.collections.impl.map.mutable.primitive.LongIntHashMap;
import org.eclipse.collections.impl.map.mutable.primitive.ObjectIntHashMap;

/**
 * The byte-level BPE tokenizer of GPT-2, Llama 3, Qwen, SmolLM, Mistral-Nemo and many others
 * ({@code tokenizer.ggml.model = "gpt2"}), producing the same ids as llama.cpp. Encoding: cut out special tokens;
 * cut each text fragment into words with the vocabulary's {@link PreTokenizer}; write each word's UTF-8 bytes as
 * GPT-2's printable stand-in characters ({@link #BYTE_CHARS}); then repeatedly merge the adjacent pair of symbols
 * that comes first in {@code tokenizer.ggml.merges} (leftmost on ties). A final symbol that is not a token is
 * spelled byte by byte. With the Llama 3 pre-tokenizers a word that is a token as a whole is that token.
 *
 * <p>Decoding maps the stand-in characters of normal tokens back to bytes; user-defined tokens decode to their
 * text and control tokens to nothing. Every byte has a stand-in, so any text round-trips when the vocabulary has
 * a token for every byte the text's UTF-8 uses.
 */
public final class ByteLevelBpeTokenizer extends VocabularyTokenizer {
    static final String MODEL = "gpt2";

    /**
     * GPT-2's {@code bytes_to_unicode}: bytes that are printable Latin-1 characters ({@code !..~}, {@code ¡..¬},
     * {@code ®..ÿ}) stand for themselves; the other 68 bytes, in order, take U+0100, U+0101, ...
     */
    static final char[] BYTE_CHARS = new char[256];
    /** The byte each stand-in character is for (indexed by char), or -1. */
    private static final int[] CHAR_BYTES = new int[512];

    static {
        Arrays.fill(CHAR_BYTES, -1);
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            BYTE_CHARS[b] = (char) (printable ? b : next++);
            CHAR_BYTES[BYTE_CHARS[b]] = b;
        }
    }

    private final PreTokenizer preTokenizer;
    /**
     * Every token text and every intermediate merge result that is not a token (ids from the vocabulary size
     * on), as the UTF-8 bytes of their stand-in spelling.
     */
    private final PieceTable pieces;
    /** (left piece << 32 | right piece) → merge rank. */
    private final LongIntHashMap rankOfPair = new LongIntHashMap();
    private final int[] byteTokens = new int[256];

    /**
     * @throws TokenizerException if the vocabulary has no merges, names an unknown pre-tokenizer or has a malformed
     *                            merge
     */
    public ByteLevelBpeTokenizer(Vocabulary vocabulary) {
        super(vocabulary, ByteLevelBpeTokenizer::standInsToBytes, false);
        this.preTokenizer = PreTokenizer.forName(vocabulary.preTokenizer());
        String[] merges = vocabulary.merges();
        if (merges == null) {
            throw new TokenizerException("the byte-level BPE vocabulary has no merges (" + Vocabulary.MERGES_KEY + ")");
        }
        int size = vocabulary.size();
        // Piece ids: the tokens, then merge texts that are not tokens. A text held twice gets the later id, as in
        // llama.cpp (and as PieceTable does).
        List<String> pieceTexts = new ArrayList<>(Arrays.asList(vocabulary.tokens()));
        ObjectIntHashMap<String> pieceIds = new ObjectIntHashMap<>(size * 2);
        for (int id = 0; id < size; id++) {
            pieceIds.put(pieceTexts.get(id), id);
        }
        for (int rank = 0; rank < merges.length; rank++) {
            String merge = merges[rank];
            int space = merge.indexOf(' ', 1);
            if (space < 0 || space == merge.length() - 1) {
                throw new TokenizerException("merge " + rank + " '" + merge + "' is not two texts separated by a space");
            }
            String left = merge.substring(0, space);
            String right = merge.substring(space + 1);
            long pair = (long) pieceId(left, pieceTexts, pieceIds) << 32 | pieceId(right, pieceTexts, pieceIds);
            if (!rankOfPair.containsKey(pair)) {
                rankOfPair.put(pair, rank);
            }
            pieceId(left + right, pieceTexts, pieceIds); // what the merge makes is a piece, for the merges after it
        }
        byte[][] pieceBytes = pieceTexts.stream().map(text -> text.getBytes(StandardCharsets.UTF_8)).toArray(byte[][]::new);
        pieces = new PieceTable(pieceBytes);
        for (int b = 0; b < 256; b++) {
            int id = pieceIds.getIfAbsent(String.valueOf(BYTE_CHARS[b]), -1);
            byteTokens[b] = id < size ? id : -1;
        }
    }

    /** The piece id of a text, adding it after the others when it is new. */
    private static int pieceId(String text, List<String> pieceTexts, ObjectIntHashMap<String> pieceIds) {
        int id = pieceIds.getIfAbsent(text, -1);
        if (id < 0) {
            id = pieceTexts.size();
            pieceTexts.add(text);
            pieceIds.put(text, id);
        }
        return id;
    }

    private static byte[] standInsToBytes(String text) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(text.length());
        text.codePoints().forEach(c -> {
            if (c < CHAR_BYTES.length && CHAR_BYTES[c] >= 0) {
                bytes.write(CHAR_BYTES[c]);
            } else {
                // Not a stand-in (a vocabulary may hold raw text): its own UTF-8 bytes.
                bytes.writeBytes(Character.toString(c).getBytes(StandardCharsets.UTF_8));
            }
        });
        return bytes.toByteArray();
    }

    @Override
    public int[] encode(String text, boolean addBos, boolean parseSpecial) {
        IntArrayList ids = startEncoding(text, addBos);
        for (SpecialTokens.Fragment fragment : specialTokens.split(text, parseSpecial)) {
            if (fragment.isText()) {
                for (String word : preTokenizer.split(text.substring(fragment.start(), fragment.end()))) {
                    encodeWord(standIns(word), ids);
                }
            } else {
                ids.add(fragment.token());
            }
        }
        return ids.toArray();
    }

    /** The UTF-8 bytes of the stand-in spelling of a word. */
    private static byte[] standIns(String word) {
        byte[] utf8 = word.getBytes(StandardCharsets.UTF_8);
        StringBuilder spelled = new StringBuilder(utf8.length);
        for (byte b : utf8) {
            spelled.append(BYTE_CHARS[b & 0xFF]);
        }
        return spelled.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** Merges the stand-in characters of one word (given as UTF-8 bytes) into tokens and appends their ids. */
    private void encodeWord(byte[] bytes, IntArrayList ids) {
        if (preTokenizer.ignoresMerges()) {
            int whole = pieces.find(bytes, 0, bytes.length);
            if (whole >= 0 && whole < vocabulary.size()) {
                ids.add(whole);
                return;
            }
        }
        int[] symbols = SymbolMerge.merge(bytes, (start, leftLength, rightLength) -> {
            int left = pieces.find(bytes, start, leftLength);
            long pair = (long) left << 32 | pieces.find(bytes, start + leftLength, rightLength);
            // A text that is no piece finds -1, which makes the key negative: no pair has it. Ranks below 2^24 are
            // exact as float scores.
            return rankOfPair.containsKey(pair) ? -rankOfPair.get(pair) : Float.NaN;
        });
        for (int i = 0; i < symbols.length; i += 2) {
            int piece = pieces.find(bytes, symbols[i], symbols[i + 1]);
            if (piece >= 0 && piece < vocabulary.size()) {
                ids.add(piece);
            } else {
                addBytes(bytes, symbols[i], symbols[i + 1], ids);
            }
        }
    }

    /**
     * Spells a symbol that is not a token as one byte token per stand-in character. A byte without a token is left
     * out, as llama.cpp does (some vocabularies have none for bytes that UTF-8 never uses, such as 0xC0, or for
     * rare control characters).
     */
    private void addBytes(byte[] bytes, int start, int length, IntArrayList ids) {
        String standIns = new String(bytes, start, length, StandardCharsets.UTF_8);
        for (int i = 0; i < standIns.length(); i++) {
            int id = byteTokens[CHAR_BYTES[standIns.charAt(i)]];
            if (id >= 0) {
                ids.add(id);
            }
        }
    }
}
