package dev.winnow.cli.server;

import dev.winnow.engine.serve.GenerationRequest;

/**
 * A completion request, checked and tokenized.
 *
 * @param kind         chat or plain text completion (the shape of the response)
 * @param generation   what the scheduler runs
 * @param stream       answer with server-sent events
 * @param includeUsage a last event with the token counts ({@code stream_options.include_usage})
 * @param echo         text to put before the completion ({@code echo} of /v1/completions), or empty
 */
record ParsedRequest(Kind kind, GenerationRequest generation, boolean stream, boolean includeUsage, String echo) {

    enum Kind { CHAT, COMPLETION }
}
