package dev.winnow.cli;

import dev.winnow.cli.server.ConnectionLimits;
import dev.winnow.cli.server.OpenAiServer;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.serve.SchedulerConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.Callable;

/** {@code winnow serve}: an OpenAI-compatible HTTP server with continuous batching. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve a model over HTTP with OpenAI's API: POST /v1/chat/completions and /v1/completions "
                + "(streaming or not), GET /v1/models, /health and /metrics (Prometheus).",
                "Concurrent requests share one decode loop (continuous batching) and one KV page pool. Point an "
                        + "OpenAI client at http://HOST:PORT/v1. Ctrl-C (SIGINT/SIGTERM) shuts down gracefully."})
final class ServeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelFile modelFile;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    KvOptions kvOptions;

    @Mixin
    PruneOptions pruneOptions;

    @Option(names = "--host", paramLabel = "HOST", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    String host = "127.0.0.1";

    @Option(names = "--port", paramLabel = "PORT", description = "Port to listen on; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int port = 8080;

    @Option(names = "--parallel", paramLabel = "N",
            description = "Sequences decoded together in one batch (default: ${DEFAULT-VALUE}).")
    int parallel = 4;

    @Option(names = "--queue", paramLabel = "N",
            description = "Requests that may wait for a place in the batch; more get 429 (default: ${DEFAULT-VALUE}).")
    int queue = 64;

    @Option(names = "--api-key", paramLabel = "KEY",
            description = "Require 'Authorization: Bearer KEY' on every endpoint but /health (default: none).")
    String apiKey;

    @Option(names = "--model-id", paramLabel = "NAME",
            description = "The model's name in /v1/models and in responses (default: the file name without .gguf).")
    String modelId;

    @Option(names = "--max-request-bytes", paramLabel = "N",
            description = "Largest request body accepted (default: ${DEFAULT-VALUE}).")
    int maxRequestBytes = 4 << 20;

    @Option(names = "--header-timeout", paramLabel = "SECONDS",
            description = "Longest silence while a request's head arrives, and longest idle time of a kept-alive "
                    + "connection; then the connection closes (default: ${DEFAULT-VALUE}).")
    long headerTimeout = ConnectionLimits.DEFAULTS.headerTimeout().toSeconds();

    @Option(names = "--body-timeout", paramLabel = "SECONDS",
            description = "Longest silence while a request body arrives (then 408), or while a client reads nothing "
                    + "of its answer (then it is dropped) (default: ${DEFAULT-VALUE}).")
    long bodyTimeout = ConnectionLimits.DEFAULTS.bodyTimeout().toSeconds();

    @Option(names = "--max-connections", paramLabel = "N",
            description = "Connections open at once; more wait to be accepted (default: ${DEFAULT-VALUE}).")
    int maxConnections = ConnectionLimits.DEFAULTS.maxConnections();

    @Option(names = "--shutdown-grace", paramLabel = "SECONDS",
            description = "On shutdown, how long running requests may go on before they are ended (default: ${DEFAULT-VALUE}).")
    int shutdownGrace = 10;

    @Override
    public Integer call() throws Exception {
        if (shutdownGrace < 0) {
            throw new UserInputException("--shutdown-grace must be 0 or more seconds, got " + shutdownGrace);
        }
        PrintWriter err = spec.commandLine().getErr();
        PruningPolicy policy = pruneOptions.policy();
        modelOptions.validate();
        String id = modelId != null ? modelId : modelFile.name(err);
        try (Model model = modelFile.load(err, pruneOptions.adapter)) {
            int context = modelOptions.contextLength(model);
            OpenAiServer server;
            try {
                SchedulerConfig config = new SchedulerConfig(parallel, queue, context, kvOptions.config(), policy,
                        modelOptions.threads);
                ConnectionLimits limits = new ConnectionLimits(Duration.ofSeconds(headerTimeout),
                        Duration.ofSeconds(bodyTimeout), maxConnections);
                OpenAiServer.Settings settings = new OpenAiServer.Settings(host, port, apiKey, maxRequestBytes,
                        id, limits);
                server = OpenAiServer.start(model, config, settings, message -> {
                    err.println(message);
                    err.flush();
                });
            } catch (IllegalArgumentException e) {
                throw new UserInputException(e.getMessage());
            } catch (IOException e) {
                throw new UserInputException("cannot listen on %s:%d: %s".formatted(host, port, e.getMessage()));
            }
            Thread hook = Thread.ofPlatform().unstarted(() -> {
                err.println("winnow: shutting down: finishing running requests for up to " + shutdownGrace + " s");
                err.flush();
                server.stop(Duration.ofSeconds(shutdownGrace));
                err.println("winnow: stopped");
                err.flush();
                // After its hooks the JVM would exit with 128 + the signal (143 for SIGTERM): a shutdown asked
                // for and carried out is a success.
                Runtime.getRuntime().halt(0);
            });
            Runtime.getRuntime().addShutdownHook(hook);
            err.printf("winnow: serving %s on http://%s:%d/v1 (OpenAI API; %d in parallel, context %d, KV budget %s, pruning %s)%n",
                    id, host, server.port(), parallel, context,
                    kvOptions.budget != null ? kvOptions.budget : parallel + " full contexts", policy);
            err.flush();
            server.awaitStop();
        }
        return 0;
    }
}
