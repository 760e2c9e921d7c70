package dev.winnow.engine.serve;

/** The scheduler cannot take a request now (or ever); the reason says which. */
public final class RejectedRequestException extends RuntimeException {

    /** Why a request was turned away. */
    public enum Reason {
        /** The waiting queue is full: try again later. */
        QUEUE_FULL,
        /** The server is shutting down. */
        SHUTTING_DOWN,
        /** The prompt (and one generated token) needs more KV pages than the whole budget. */
        EXCEEDS_KV_BUDGET,
        /** The prompt and the token limit do not fit in the context. */
        EXCEEDS_CONTEXT
    }

    private final Reason reason;

    public RejectedRequestException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
