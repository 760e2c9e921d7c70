package dev.winnow.engine.generate;

/** The tokens of a session would go past its context length. */
public final class ContextFullException extends RuntimeException {
    public ContextFullException(String message) {
        super(message);
    }
}
