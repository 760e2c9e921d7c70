package dev.winnow.engine.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.OptionalInt;
import java.util.function.Function;

import org.eclipse.collections.impl.list.mutable.primitive.IntArrayList;

/**
 * What every tokenizer algorithm shares: the vocabulary, its special tokens, the bytes each token decodes to, and
 * the start of an encoding (BOS when asked for).
 */
abstract class VocabularyTokenizer implements Tokenizer {
    final Vocabulary vocabulary;
    final SpecialTokens specialTokens;
    /** The bytes each token decodes to; none for control, unknown and unused tokens. */
    final byte[][] decodedBytes;
    private final boolean dropPrefixSpace;

    /**
     * @param normalBytes     the bytes a normal token's text stands for
     * @param dropPrefixSpace whether encoding puts a space in front of the text, which decoding drops again
     */
    VocabularyTokenizer(Vocabulary vocabulary, Function<String, byte[]> normalBytes, boolean dropPrefixSpace) {
        this.vocabulary = vocabulary;
        this.specialTokens = new SpecialTokens(vocabulary);
        this.decodedBytes = new byte[vocabulary.size()][];
        this.dropPrefixSpace = dropPrefixSpace;
        for (int id = 0; id < decodedBytes.length; id++) {
            String text = vocabulary.tokens()[id];
            decodedBytes[id] = switch (vocabulary.type(id)) {
                case NORMAL -> normalBytes.apply(text);
                case USER_DEFINED -> text.getBytes(StandardCharsets.UTF_8);
                case BYTE -> new byte[] {(byte) Vocabulary.byteValue(text)};
                case CONTROL, UNKNOWN, UNUSED -> new byte[0];
            };
        }
    }

    /** A list for the ids of {@code text}, holding BOS when {@code addBos}. */
    IntArrayList startEncoding(String text, boolean addBos) {
        IntArrayList ids = new IntArrayList(text.length() / 2 + 2);
        if (addBos) {
            if (vocabulary.bos() < 0) {
                throw new TokenizerException("cannot add BOS: the vocabulary has no BOS token");
            }
            ids.add(vocabulary.bos());
        }
        return ids;
    }

    @Override
    public TokenDecoder decoder() {
        return new TokenDecoder(decodedBytes, vocabulary.bos(), dropPrefixSpace);
    }

    @Override
    public Vocabulary vocabulary() {
        return vocabulary;
    }

    @Override
    public boolean isEndOfGeneration(int id) {
        return specialTokens.isEndOfGeneration(id);
    }

    @Override
    public String piece(int id) {
        if (id < 0 || id >= vocabulary.size()) {
            throw new IllegalArgumentException(
                    "token id " + id + " is outside the vocabulary of " + vocabulary.size() + " tokens");
        }
        return vocabulary.type(id) == TokenType.NORMAL
                ? new String(decodedBytes[id], StandardCharsets.UTF_8)
                : vocabulary.tokens()[id];
    }

    @Override
    public OptionalInt specialTokenId(String text) {
        return specialTokens.idOf(text);
    }
}
