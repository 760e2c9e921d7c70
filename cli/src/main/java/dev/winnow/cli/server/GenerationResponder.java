package dev.winnow.cli.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.winnow.engine.serve.SequenceEvent;
import dev.winnow.engine.serve.SequenceHandle;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * Turns a sequence's events into the HTTP answer, on the request's own (virtual) thread: server-sent events as
 * the text comes, or one JSON object at the end. The status and headers wait for the first event, so a request
 * that fails before its first token gets a proper error status. Whenever a second passes without a write (the
 * request is queued or paused by a preemption, or a non-streaming answer is still being generated) a heartbeat
 * goes out, an SSE comment or a space before the JSON: that keeps proxies from timing out and, since writing to
 * a closed connection fails, notices a client that left. The caller cancels the sequence when this throws.
 */
final class GenerationResponder {
    static final long HEARTBEAT_MILLIS = 1000;
    private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] SSE_HEARTBEAT = ": keep-alive\n\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] DATA = "data: ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] EVENT_END = "\n\n".getBytes(StandardCharsets.US_ASCII);

    private final Exchange exchange;
    private final ParsedRequest request;
    private final SequenceHandle handle;
    private final Responses responses;
    private boolean ended;
    /** Stream events not yet written. */
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private long lastWrite = System.nanoTime();

    GenerationResponder(Exchange exchange, ParsedRequest request, SequenceHandle handle, Responses responses) {
        this.exchange = exchange;
        this.request = request;
        this.handle = handle;
        this.responses = responses;
    }

    /** Whether the sequence sent its last event. */
    boolean ended() {
        return ended;
    }

    /** Answers the request; returns the HTTP status sent. */
    int respond() throws IOException, InterruptedException {
        return request.stream() ? stream() : whole();
    }

    private int stream() throws IOException, InterruptedException {
        while (true) {
            SequenceEvent event = nextEvent();
            if (event == null) {
                openStream();
                pending.writeBytes(SSE_HEARTBEAT);
                flushPending();
                continue;
            }
            // Events that are already waiting go out in the same write: a handler that fell behind the decode loop
            // catches up with one write (and the client with one read) instead of one per token.
            for (; event != null; event = handle.poll(0, TimeUnit.NANOSECONDS)) {
                int status = streamEvent(event);
                if (status != 0) {
                    return status;
                }
            }
            flushPending();
        }
    }

    /** Queues one event of a stream; returns the HTTP status once the answer is complete, else 0. */
    private int streamEvent(SequenceEvent event) throws IOException {
        boolean usage = request.includeUsage();
        ended = event.isLast();
        countTokens(event);
        if (event instanceof SequenceEvent.Failed failed && !exchange.begun()) {
            return Replies.error(exchange, Failures.toApi(failed));
        }
        openStream();
        switch (event) {
            case SequenceEvent.Text text -> {
                queue(responses.textJson(text.text(), usage));
                return 0;
            }
            case SequenceEvent.Finished finished -> {
                queue(responses.finish(finished.reason().openAiName(), usage));
                if (usage) {
                    queue(responses.usageChunk(finished.promptTokens(), finished.completionTokens()));
                }
            }
            case SequenceEvent.Failed failed -> queue(Replies.errorBody(Failures.toApi(failed)));
        }
        pending.writeBytes(DONE);
        flushPending();
        return 200;
    }

    private int whole() throws IOException, InterruptedException {
        StringBuilder text = new StringBuilder(request.echo());
        while (true) {
            SequenceEvent event = nextEvent();
            if (event == null) {
                if (!exchange.begun()) {
                    exchange.setHeader("Content-Type", Replies.JSON_TYPE);
                    exchange.begin(200, -1);
                }
                write(new byte[] {' '});
                continue;
            }
            ended = event.isLast();
            countTokens(event);
            switch (event) {
                case SequenceEvent.Text piece -> text.append(piece.text());
                case SequenceEvent.Finished finished -> {
                    ObjectNode response = responses.complete(text.toString(), finished.reason().openAiName(),
                            finished.promptTokens(), finished.completionTokens());
                    return finish(200, response);
                }
                case SequenceEvent.Failed failed -> {
                    ApiException error = Failures.toApi(failed);
                    if (!exchange.begun()) {
                        return Replies.error(exchange, error);
                    }
                    return finish(error.status, Replies.errorBody(error));
                }
            }
        }
    }

    /** The request log's token counts, from the sequence's last event. */
    private void countTokens(SequenceEvent event) {
        switch (event) {
            case SequenceEvent.Finished finished -> exchange.countTokens(finished.promptTokens(), finished.completionTokens());
            case SequenceEvent.Failed failed -> exchange.countTokens(handle.promptTokens(), failed.completionTokens());
            case SequenceEvent.Text text -> {
            }
        }
    }

    /** The next event, or null when a heartbeat is due first. */
    private SequenceEvent nextEvent() throws InterruptedException {
        long due = lastWrite + TimeUnit.MILLISECONDS.toNanos(HEARTBEAT_MILLIS) - System.nanoTime();
        return due <= 0 ? null : handle.poll(due, TimeUnit.NANOSECONDS);
    }

    /** The last JSON object: the whole answer, or after heartbeats the rest of a 200 answer already begun. */
    private int finish(int status, ObjectNode json) throws IOException {
        if (!exchange.begun()) {
            return Replies.json(exchange, status, json);
        }
        write(Replies.write(json));
        return 200;
    }

    /** Begins the stream (status, headers and the opening chunk, which goes out with the first event). */
    private void openStream() {
        if (exchange.begun()) {
            return;
        }
        exchange.setHeader("Content-Type", "text/event-stream; charset=utf-8");
        exchange.setHeader("Cache-Control", "no-cache");
        exchange.setHeader("X-Accel-Buffering", "no");
        exchange.begin(200, -1);
        ObjectNode opening = responses.opening(request.echo(), request.includeUsage());
        if (opening != null) {
            queue(opening);
        }
    }

    /** Adds a chunk to what the next write sends, as one server-sent event. */
    private void queue(ObjectNode chunk) {
        queue(Replies.write(chunk));
    }

    private void queue(byte[] json) {
        pending.writeBytes(DATA);
        pending.writeBytes(json);
        pending.writeBytes(EVENT_END);
    }

    private void flushPending() throws IOException {
        if (pending.size() > 0) {
            write(pending.toByteArray());
            pending.reset();
        }
    }

    private void write(byte[] bytes) throws IOException {
        exchange.write(bytes);
        lastWrite = System.nanoTime();
    }
}
