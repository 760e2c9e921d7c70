package dev.winnow.engine.tokenizer;

/**
 * The kinds of vocabulary entries. Declared in the order of the codes GGUF stores for them in
 * {@code tokenizer.ggml.token_type}, 1 to 6.
 */
public enum TokenType {
    /** Ordinary text; SentencePiece writes spaces in it as U+2581. */
    NORMAL,
    /** The stand-in for text the vocabulary cannot spell. */
    UNKNOWN,
    /** Markers such as BOS and EOS: never produced from plain text, decoded to nothing. */
    CONTROL,
    /** Added tokens matched literally in the input and decoded verbatim. */
    USER_DEFINED,
    /** Reserved slots the model was not trained on. */
    UNUSED,
    /** One raw byte, spelled {@code <0xNN>}. */
    BYTE;

    private static final TokenType[] BY_CODE = values();

    public int code() {
        return ordinal() + 1;
    }

    /**
     * The type for a GGUF code; 0 ("undefined", written by some converters) counts as {@link #NORMAL}.
     *
     * @throws IllegalArgumentException for codes outside 0..6
     */
    public static TokenType ofCode(int code) {
        if (code < 0 || code > BY_CODE.length) {
            throw new IllegalArgumentException("token type code " + code + " is not one of 0..6");
        }
        return code == 0 ? NORMAL : BY_CODE[code - 1];
    }
}
