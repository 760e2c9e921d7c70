package dev.winnow.engine.tokenizer;

/** A vocabulary or a text that the tokenizer cannot work with; the message names what is wrong and where. */
public final class TokenizerException extends IllegalArgumentException {
    public TokenizerException(String message) {
        super(message);
    }
}
