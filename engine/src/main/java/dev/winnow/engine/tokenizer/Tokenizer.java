package dev.winnow.engine.tokenizer;

import java.util.OptionalInt;

/** Text to token ids and back, for one vocabulary. Implementations are immutable and thread-safe. */
public interface Tokenizer {

    /**
     * Token ids for {@code text}.
     *
     * @param addBos       put the BOS token first (whether a model wants it: {@link Vocabulary#addBos()})
     * @param parseSpecial recognise the texts of control tokens (e.g. {@code <s>}, {@code <|im_end|>}) in the
     *                     input and emit their ids; otherwise they are tokenized as ordinary text. Chat templates
     *                     need this on.
     * @throws TokenizerException if {@code addBos} but the vocabulary has no BOS, or a character cannot be spelled
     */
    int[] encode(String text, boolean addBos, boolean parseSpecial);

    /** A new streaming decoder, for one stream of ids. */
    TokenDecoder decoder();

    /** The text of {@code ids}; the same as feeding them one by one to a fresh {@link #decoder()} and flushing. */
    default String decode(int[] ids) {
        TokenDecoder decoder = decoder();
        StringBuilder text = new StringBuilder();
        for (int id : ids) {
            text.append(decoder.next(id));
        }
        return text.append(decoder.flush()).toString();
    }

    /** The vocabulary this tokenizer reads. */
    Vocabulary vocabulary();

    default int vocabularySize() {
        return vocabulary().size();
    }

    /** The BOS id, or -1. */
    default int bos() {
        return vocabulary().bos();
    }

    /** The EOS id, or -1. */
    default int eos() {
        return vocabulary().eos();
    }

    /** Whether generating this token ends the model's turn: EOS and the known end-of-turn markers. */
    boolean isEndOfGeneration(int id);

    /**
     * A readable form of one token, for logs and listings: control, unknown, user-defined and byte tokens as
     * their vocabulary text (e.g. {@code <s>}, {@code <0x0A>}), other tokens as the text they decode to.
     */
    String piece(int id);

    /** The id of the control, unknown or user-defined token with exactly this text, e.g. {@code <|eot_id|>}. */
    OptionalInt specialTokenId(String text);

    /**
     * The tokenizer for a vocabulary, chosen by {@link Vocabulary#model()}.
     *
     * @throws TokenizerException for a model Winnow has no tokenizer for
     */
    static Tokenizer of(Vocabulary vocabulary) {
        return switch (vocabulary.model()) {
            case SentencePieceTokenizer.MODEL -> new SentencePieceTokenizer(vocabulary);
            case ByteLevelBpeTokenizer.MODEL -> new ByteLevelBpeTokenizer(vocabulary);
            default -> throw new TokenizerException("tokenizer model '" + vocabulary.model()
                    + "' (tokenizer.ggml.model) is not supported; supported: '" + SentencePieceTokenizer.MODEL
                    + "' (SentencePiece), '" + ByteLevelBpeTokenizer.MODEL + "' (byte-level BPE)");
        };
    }
}
