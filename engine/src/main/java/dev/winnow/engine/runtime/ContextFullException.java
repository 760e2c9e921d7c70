package dev.winnow.engine.runtime;

/** The tokens of a session would go past its context length. */
public final class ContextFullException extends RuntimeException {
    public ContextFullException(String message) {
        super(message);
    }
}
