package dev.winnow.cli.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.serve.RejectedRequestException;
import dev.winnow.engine.serve.Scheduler;
import dev.winnow.engine.serve.SchedulerConfig;
import dev.winnow.engine.serve.SequenceHandle;
import dev.winnow.engine.serve.SequenceStatus;
import dev.winnow.engine.serve.ServerMetrics;

import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * An OpenAI-compatible HTTP server over the continuous-batching {@link Scheduler}, on Jetty with one virtual
 * thread per request. Endpoints: {@code POST /v1/chat/completions}, {@code POST /v1/completions}
 * (both streaming or not), {@code GET /v1/models}, {@code GET /v1/models/{id}}, {@code POST /tokenize} and
 * {@code POST /detokenize} (as llama-server has them), {@code GET /health}, {@code GET /metrics} (each GET also
 * answers HEAD). Each request is logged in one line ({@link RequestLog}). Every path, known or not, answers JSON; errors use OpenAI's
 * format and never carry a stack trace (those go to the log); so do the requests Jetty itself refuses
 * ({@link JsonErrorHandler}). Slow clients are bounded by {@link Settings}' timeouts and connection cap.
 */
public final class OpenAiServer implements AutoCloseable {
    /** The chat page served at {@code /}: one self-contained file, no external scripts, styles or fonts. */
    private static final byte[] CHAT_PAGE_HTML = chatPage();
    /** How long a stop waits for the answers in flight to write their last events before closing connections. */
    private static final long LAST_WRITES_MILLIS = 10_000;

    /**
     * Where and how the server listens.
     *
     * @param apiKey          the key clients must send as {@code Authorization: Bearer KEY}, or null for none
     * @param maxRequestBytes the largest request body accepted
     * @param modelId         the model's name in {@code /v1/models} and in responses
     * @param limits          how long clients may stall, and how many connections may be open
     */
    public record Settings(String host, int port, String apiKey, int maxRequestBytes, String modelId,
                           ConnectionLimits limits) {
        public Settings {
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("--port must be 0 to 65535, got " + port);
            }
            if (maxRequestBytes < 1024) {
                throw new IllegalArgumentException("the request size limit must be at least 1024 bytes, got " + maxRequestBytes);
            }
            if (apiKey != null && apiKey.isBlank()) {
                throw new IllegalArgumentException("--api-key must not be blank");
            }
            Objects.requireNonNull(limits, "limits");
        }
    }

    /** The paths the server answers, with their metric label. */
    private enum Route {
        CHAT_PAGE("/", "GET", false),
        HEALTH("/health", "GET", false),
        METRICS("/metrics", "GET", true),
        MODELS("/v1/models", "GET", true),
        MODEL("/v1/models/{id}", "GET", true),
        CHAT("/v1/chat/completions", "POST", true),
        COMPLETIONS("/v1/completions", "POST", true),
        TOKENIZE("/tokenize", "POST", true),
        DETOKENIZE("/detokenize", "POST", true),
        SEQUENCES("/sequences", "GET", true),
        UNKNOWN("other", null, false);

        final String label;
        final String method;
        final boolean authenticated;

        Route(String label, String method, boolean authenticated) {
            this.label = label;
            this.method = method;
            this.authenticated = authenticated;
        }

        static Route of(String path) {
            for (Route route : values()) {
                if (route.label.equals(path)) {
                    return route;
                }
            }
            return path.startsWith("/v1/models/") && path.length() > "/v1/models/".length() ? MODEL : UNKNOWN;
        }
    }

    private final Scheduler scheduler;
    private final RequestParser parser;
    private final Tokenization tokenization;
    private final Settings settings;
    private final Server jetty;
    private final ServerConnector connector;
    private final ExecutorService requestThreads;
    private final int port;
    private final Consumer<String> log;
    private final long created = System.currentTimeMillis() / 1000;
    private final String pruning;
    private final byte[] apiKeyBytes;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile boolean stopping;

    private OpenAiServer(Scheduler scheduler, RequestParser parser, Tokenization tokenization, String pruning,
                         Settings settings, Consumer<String> log) throws IOException {
        this.scheduler = scheduler;
        this.parser = parser;
        this.tokenization = tokenization;
        this.pruning = pruning;
        this.settings = settings;
        this.log = log;
        this.apiKeyBytes = settings.apiKey() == null ? null : settings.apiKey().getBytes(StandardCharsets.UTF_8);
        // Jetty's own small pool runs the selector and acceptor; requests, which block, run on virtual threads.
        QueuedThreadPool jettyThreads = new QueuedThreadPool();
        jettyThreads.setName("winnow-http");
        requestThreads = Executors.newVirtualThreadPerTaskExecutor();
        jettyThreads.setVirtualThreadsExecutor(requestThreads);
        jetty = new Server(jettyThreads);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        // While a request is handled: a body that stops arriving, or a client that stops reading the answer.
        http.setIdleTimeout(settings.limits().bodyTimeout().toMillis());
        // One acceptor and one selector thread: they only move bytes; the work is on the request threads.
        connector = new ServerConnector(jetty, 1, 1, new HttpConnectionFactory(http));
        connector.setHost(settings.host());
        connector.setPort(settings.port());
        // Between requests and while a request's head arrives.
        connector.setIdleTimeout(settings.limits().headerTimeout().toMillis());
        jetty.addConnector(connector);
        jetty.addBean(new NetworkConnectionLimit(settings.limits().maxConnections(), connector));
        jetty.setErrorHandler(new JsonErrorHandler(scheduler.metrics(), log));
        // On stop, Jetty closes the connections only after the requests in flight have written their last event
        // (the scheduler has ended every sequence by then), or after a bound.
        jetty.setHandler(new GracefulHandler(new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                OpenAiServer.this.handle(new Exchange(request, response), callback);
                return true;
            }
        }));
        jetty.setStopTimeout(LAST_WRITES_MILLIS);
        try {
            jetty.start();
        } catch (Exception e) {
            stopJetty();
            throw e instanceof IOException io ? io
                    : new IOException(e instanceof UnresolvedAddressException ? "unknown host" : e.toString(), e);
        }
        port = connector.getLocalPort();
    }

    /**
     * Starts the scheduler (page pool, workers, decode loop) and the HTTP server.
     *
     * @throws IOException              when the address cannot be bound
     * @throws IllegalArgumentException when the configuration cannot work for this model
     */
    public static OpenAiServer start(Model model, SchedulerConfig config, Settings settings, Consumer<String> log)
            throws IOException {
        Scheduler scheduler = new Scheduler(model, config, log);
        try {
            return new OpenAiServer(scheduler, new RequestParser(model, config.contextLength()), new Tokenization(model),
                    config.pruning().toString(), settings, log);
        } catch (IOException | RuntimeException e) {
            scheduler.close();
            throw e;
        }
    }

    /** The port the server listens on (the one chosen by the system when started with port 0). */
    public int port() {
        return port;
    }

    public ServerMetrics metrics() {
        return scheduler.metrics();
    }

    /**
     * Graceful shutdown: new requests get 503, queued ones end with 503, running ones may finish for up to
     * {@code grace} and are then ended with an error; then the listener closes and the decode loop stops.
     */
    public void stop(Duration grace) {
        synchronized (this) {
            if (stopping) {
                awaitStopUninterruptibly();
                return;
            }
            stopping = true;
        }
        try {
            scheduler.shutdown(grace);
            stopJetty();
        } finally {
            stopped.countDown();
        }
    }

    /** Blocks until {@link #stop} has finished. */
    public void awaitStop() throws InterruptedException {
        stopped.await();
    }

    @Override
    public void close() {
        stop(Duration.ZERO);
    }

    /** Closes the listener, lets the answers in flight end, closes every connection, waits for the request threads. */
    private void stopJetty() {
        try {
            jetty.stop();
        } catch (Exception e) {
            log.accept("winnow serve: stopping the HTTP listener failed: " + e);
        }
        requestThreads.close();
    }

    private void awaitStopUninterruptibly() {
        boolean interrupted = false;
        while (stopped.getCount() > 0) {
            try {
                stopped.await();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void handle(Exchange exchange, Callback callback) {
        Route route = Route.of(exchange.path());
        exchange.markCounted();
        int status = 500;
        IOException broken = null;
        try {
            status = dispatch(exchange, route);
        } catch (ApiException e) {
            status = replyIfPossible(exchange, e, status);
        } catch (IOException e) {
            status = 499; // the client went away
            broken = e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            status = replyIfPossible(exchange, Failures.shuttingDown(), status);
        } catch (RuntimeException | Error e) {
            StringWriter trace = new StringWriter();
            e.printStackTrace(new PrintWriter(trace));
            log.accept("winnow serve: %s %s failed: %s".formatted(exchange.method(), exchange.path(), trace));
            status = replyIfPossible(exchange, new ApiException(500, "server_error", null, "internal_error",
                    "internal error: " + e + " (details in the server log)", 0), status);
        } finally {
            scheduler.metrics().countRequest(route.label, status);
            log.accept(RequestLog.line(exchange.method(), exchange.path(), status, exchange.tokensIn(),
                    exchange.tokensOut(), exchange.beginNanos()));
            if (broken == null) {
                callback.succeeded();
            } else {
                callback.failed(broken);
            }
        }
    }

    private int dispatch(Exchange exchange, Route route) throws IOException, InterruptedException {
        String method = exchange.method();
        if (route == Route.UNKNOWN) {
            throw new ApiException(404, "invalid_request_error", null, "unknown_url",
                    "Unknown request URL: %s %s. Winnow serves /v1/chat/completions, /v1/completions, /v1/models, /tokenize, /detokenize, /sequences, /health, /metrics and a chat page at /."
                            .formatted(method, exchange.path()), 0);
        }
        if (route.authenticated) {
            authenticate(exchange);
        }
        boolean headOfGet = method.equals("HEAD") && route.method.equals("GET");
        if (!route.method.equals(method) && !headOfGet) {
            exchange.setHeader("Allow", route.method);
            throw new ApiException(405, "invalid_request_error", null, "method_not_allowed",
                    "%s %s is not allowed; use %s".formatted(method, route.label, route.method), 0);
        }
        return switch (route) {
            case CHAT_PAGE -> {
                // The page's own script and style are inline; it may talk to this server only.
                exchange.setHeader("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; "
                        + "style-src 'unsafe-inline'; connect-src 'self'; img-src data:");
                yield Replies.bytes(exchange, 200, "text/html; charset=utf-8", CHAT_PAGE_HTML);
            }
            case HEALTH -> health(exchange);
            case SEQUENCES -> Replies.json(exchange, 200, sequences());
            case METRICS -> Replies.text(exchange, 200, "text/plain; version=0.0.4; charset=utf-8",
                    scheduler.metrics().prometheusText());
            case MODELS -> {
                ObjectNode list = Replies.JSON.createObjectNode();
                list.put("object", "list");
                list.putArray("data").add(modelObject());
                yield Replies.json(exchange, 200, list);
            }
            case MODEL -> {
                String id = exchange.path().substring("/v1/models/".length());
                if (!id.equals(settings.modelId())) {
                    throw new ApiException(404, "invalid_request_error", "model", "model_not_found",
                            "The model '%s' does not exist; this server serves '%s'".formatted(id, settings.modelId()), 0);
                }
                yield Replies.json(exchange, 200, modelObject());
            }
            case CHAT -> generate(exchange, ParsedRequest.Kind.CHAT);
            case COMPLETIONS -> generate(exchange, ParsedRequest.Kind.COMPLETION);
            case TOKENIZE -> Replies.json(exchange, 200, tokenization.tokenize(readBody(exchange), exchange));
            case DETOKENIZE -> Replies.json(exchange, 200, tokenization.detokenize(readBody(exchange), exchange));
            case UNKNOWN -> throw new IllegalStateException("unknown routes were answered above");
        };
    }

    private int health(Exchange exchange) throws IOException {
        ObjectNode health = Replies.JSON.createObjectNode();
        health.put("status", stopping ? "shutting_down" : "ok");
        health.put("active_sequences", scheduler.metrics().activeSequences());
        health.put("queue_depth", scheduler.metrics().queueDepth());
        return Replies.json(exchange, stopping ? 503 : 200, health);
    }

    /** {@code GET /sequences}: the batch as the decode loop last published it, with what pruning keeps. */
    private ObjectNode sequences() {
        ServerMetrics metrics = scheduler.metrics();
        ObjectNode answer = Replies.JSON.createObjectNode();
        answer.put("pruning", pruning);
        answer.put("kv_bytes_in_use", metrics.bytesInUse());
        answer.put("kv_bytes_max", metrics.bytesMax());
        ArrayNode list = answer.putArray("sequences");
        for (SequenceStatus status : metrics.sequences()) {
            ObjectNode sequence = list.addObject();
            sequence.put("id", status.id());
            sequence.put("prompt_tokens", status.promptTokens());
            sequence.put("completion_tokens", status.completionTokens());
            sequence.put("position", status.position());
            sequence.put("kv_bytes", status.kvBytes());
            sequence.put("pruned_fraction", status.prunedFraction());
            ArrayNode kept = sequence.putArray("kept_tokens_per_layer");
            for (int tokens : status.keptTokensPerLayer()) {
                kept.add(tokens);
            }
        }
        return answer;
    }

    private ObjectNode modelObject() {
        ObjectNode model = Replies.JSON.createObjectNode();
        model.put("id", settings.modelId());
        model.put("object", "model");
        model.put("created", created);
        model.put("owned_by", "winnow");
        return model;
    }

    private int generate(Exchange exchange, ParsedRequest.Kind kind) throws IOException, InterruptedException {
        if (stopping) {
            throw Failures.shuttingDown();
        }
        ParsedRequest request = parser.parse(kind, readBody(exchange));
        exchange.countTokens(request.generation().prompt().length, -1);
        SequenceHandle handle;
        try {
            handle = scheduler.submit(request.generation());
        } catch (RejectedRequestException e) {
            throw Failures.toApi(e, kind == ParsedRequest.Kind.CHAT ? "messages" : "prompt");
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(null, e.getMessage());
        }
        // Names the sequence in /sequences and /metrics, so that a client (the chat page) can watch its own.
        exchange.setHeader("X-Winnow-Sequence", Long.toString(handle.id()));
        String id = (kind == ParsedRequest.Kind.CHAT ? "chatcmpl-" : "cmpl-")
                + HexFormat.of().formatHex(randomBytes(12));
        GenerationResponder responder = new GenerationResponder(exchange, request, handle,
                new Responses(Replies.JSON, kind, id, System.currentTimeMillis() / 1000, settings.modelId()));
        try {
            return responder.respond();
        } finally {
            if (!responder.ended()) {
                handle.cancel();
            }
        }
    }

    private static byte[] chatPage() {
        try (InputStream page = OpenAiServer.class.getResourceAsStream("chat.html")) {
            if (page == null) {
                throw new IllegalStateException("chat.html is missing from the jar");
            }
            return page.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("reading chat.html from the jar", e);
        }
    }

    private static byte[] randomBytes(int count) {
        byte[] bytes = new byte[count];
        ThreadLocalRandom.current().nextBytes(bytes);
        return bytes;
    }

    private ObjectNode readBody(Exchange exchange) throws IOException {
        byte[] body;
        try {
            String declared = exchange.header("Content-Length");
            if (declared != null && declared.strip().matches("\\d{1,18}") && Long.parseLong(declared.strip()) > settings.maxRequestBytes()) {
                exchange.discardBody();
                throw tooLarge(Long.parseLong(declared.strip()));
            }
            body = exchange.readBody(settings.maxRequestBytes());
            if (body.length > settings.maxRequestBytes()) {
                exchange.discardBody();
                throw tooLarge(body.length);
            }
        } catch (IOException e) {
            if (causedBy(e, TimeoutException.class)) {
                throw new ApiException(408, "invalid_request_error", null, "request_timeout",
                        "the request body stopped arriving: nothing came for %d s (--body-timeout)"
                                .formatted(settings.limits().bodyTimeout().toSeconds()), 0);
            }
            throw e;
        }
        JsonNode json;
        try {
            json = Replies.JSON.readTree(body);
        } catch (JsonProcessingException e) {
            // Jackson names its (redacted) input source inside the message; the position is all a client needs.
            String reason = e.getOriginalMessage().replaceAll("\\[Source: [^;]*; ", "[");
            throw ApiException.invalid(null, "We could not parse the JSON body of your request: %s (line %d, column %d)"
                    .formatted(reason, e.getLocation() == null ? 0 : e.getLocation().getLineNr(),
                            e.getLocation() == null ? 0 : e.getLocation().getColumnNr()));
        }
        if (json == null || !json.isObject()) {
            throw ApiException.invalid(null, "the request body must be a JSON object");
        }
        return (ObjectNode) json;
    }

    private ApiException tooLarge(long bytes) {
        return new ApiException(400, "invalid_request_error", null, "request_too_large",
                "the request body has %d bytes; this server takes at most %d (--max-request-bytes)"
                        .formatted(bytes, settings.maxRequestBytes()), 0);
    }

    private void authenticate(Exchange exchange) {
        if (apiKeyBytes == null) {
            return;
        }
        String header = exchange.header("Authorization");
        String prefix = "Bearer ";
        boolean valid = header != null && header.regionMatches(true, 0, prefix, 0, prefix.length())
                && MessageDigest.isEqual(apiKeyBytes, header.substring(prefix.length()).strip().getBytes(StandardCharsets.UTF_8));
        if (!valid) {
            throw new ApiException(401, "invalid_request_error", null, "invalid_api_key", header == null
                    ? "You didn't provide an API key. Send it as 'Authorization: Bearer KEY'."
                    : "Incorrect API key provided.", 0);
        }
    }

    private static boolean causedBy(Throwable failure, Class<? extends Throwable> type) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
        }
        return false;
    }

    /** Sends the error unless the answer has begun (then the status already sent stands). */
    private static int replyIfPossible(Exchange exchange, ApiException error, int status) {
        if (exchange.begun()) {
            return exchange.status();
        }
        try {
            return Replies.error(exchange, error);
        } catch (IOException e) {
            return status;
        }
    }
}
