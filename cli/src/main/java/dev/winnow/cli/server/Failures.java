package dev.winnow.cli.server;

import dev.winnow.engine.serve.RejectedRequestException;
import dev.winnow.engine.serve.SequenceEvent;

/** The HTTP errors of the scheduler's refusals and failures. */
final class Failures {
    private Failures() {
    }

    static ApiException toApi(RejectedRequestException rejected, String promptParam) {
        return switch (rejected.reason()) {
            case QUEUE_FULL -> new ApiException(429, "rate_limit_exceeded", null, "queue_full", rejected.getMessage(), 1);
            case SHUTTING_DOWN -> shuttingDown();
            case EXCEEDS_KV_BUDGET -> new ApiException(400, "invalid_request_error", promptParam, "kv_budget_exceeded",
                    rejected.getMessage(), 0);
            case EXCEEDS_CONTEXT -> new ApiException(400, "invalid_request_error", promptParam, "context_length_exceeded",
                    rejected.getMessage(), 0);
        };
    }

    static ApiException toApi(SequenceEvent.Failed failed) {
        return switch (failed.failure()) {
            case SHUTTING_DOWN -> shuttingDown();
            case EXCEEDS_KV_BUDGET -> new ApiException(400, "invalid_request_error", null, "kv_budget_exceeded",
                    failed.message(), 0);
            case CANCELLED -> new ApiException(503, "server_error", null, "cancelled", failed.message(), 0);
            case INTERNAL -> new ApiException(500, "server_error", null, "internal_error",
                    failed.message() + " (details in the server log)", 0);
        };
    }

    static ApiException shuttingDown() {
        return new ApiException(503, "server_error", null, "shutting_down", "the server is shutting down", 0);
    }
}
