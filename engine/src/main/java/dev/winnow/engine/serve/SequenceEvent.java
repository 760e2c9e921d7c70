package dev.winnow.engine.serve;

/** What the decode loop tells a request about its sequence, in order: text pieces, then one end. */
public sealed interface SequenceEvent {

    /** The next piece of generated text (never empty), cut at a stop string. */
    record Text(String text) implements SequenceEvent {
    }

    /** Generation ended normally; no event follows. */
    record Finished(FinishReason reason, int promptTokens, int completionTokens) implements SequenceEvent {
    }

    /** Generation ended without finishing, after {@code completionTokens} tokens; no event follows. */
    record Failed(Failure failure, String message, int completionTokens) implements SequenceEvent {
    }

    /** Why a sequence failed. */
    enum Failure {
        /** The client cancelled it. */
        CANCELLED,
        /** The server stopped before it finished. */
        SHUTTING_DOWN,
        /** Its prompt cannot be stored in the KV budget even with the pool to itself. */
        EXCEEDS_KV_BUDGET,
        /** A fault in the engine; the message says what, the server log has the trace. */
        INTERNAL
    }

    /** Whether this is the last event of its sequence. */
    default boolean isLast() {
        return !(this instanceof Text);
    }
}
