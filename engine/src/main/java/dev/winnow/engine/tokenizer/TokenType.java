package dev.winnow.engine.tokenizer;

/** The kinds of vocabulary entries, with the codes GGUF stores in {@code tokenizer.ggml.token_type}. */
public enum TokenType {
    /** Ordinary text; SentencePiece writes spaces in it as U+2581. */
    NORMAL(1),
    /** The stand-in for text the vocabulary cannot spell. */
    UNKNOWN(2),
    /** Markers such as BOS and EOS: never produced from plain text, decoded to nothing. */
    CONTROL(3),
    /** Added tokens matched literally in the input and decoded verbatim. */
    USER_DEFINED(4),
    /** Reserved slots the model was not trained on. */
    UNUSED(5),
    /** One raw byte, spelled {@code <0xNN>}. */
    BYTE(6);

    private final int code;

    TokenType(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /**
     * The type for a GGUF code; 0 ("undefined", written by some converters) counts as {@link #NORMAL}.
     *
     * @throws IllegalArgumentException for codes outside 0..6
     */
    public static TokenType ofCode(int code) {
        return switch (code) {
            case 0, 1 -> NORMAL;
            case 2 -> UNKNOWN;
            case 3 -> CONTROL;
            case 4 -> USER_DEFINED;
            case 5 -> UNUSED;
            case 6 -> BYTE;
            default -> throw new IllegalArgumentException("token type code " + code + " is not one of 0..6");
        };
    }
}
