package dev.winnow.tests.serve;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Concurrent clients: each sends its requests one after another, every request a completion of exactly
 * {@code maxTokens} tokens ({@code ignore_eos}) at {@link #TEMPERATURE} with a seed of its own, checked on arrival.
 * The requests go through the HTTP server as streams, or, for a benchmark's comparison, by any other way in.
 */
final class LoadRun {
    static final double TEMPERATURE = 0.8;

    /** What a run did: requests answered, tokens streamed, wall time, and what went wrong. */
    record Result(int clients, int requests, long tokens, double seconds, List<String> failures) {
        double tokensPerSecond() {
            return tokens / seconds;
        }
    }

    /** One request of a client: sends it and returns the tokens of the answer, or throws saying what was wrong. */
    @FunctionalInterface
    interface Client {
        long request(int client, int request) throws Exception;
    }

    private LoadRun() {
    }

    /** The seed of a client's request: every request samples its own way, and the same in every run. */
    static long seed(int client, int request) {
        return 1000L * client + request;
    }

    /** Streaming clients through the server's HTTP API. */
    static Result run(ServerHarness harness, int clients, int requestsPerClient, int maxTokens, String prompt,
                      long timeoutSeconds) throws InterruptedException {
        return run(clients, requestsPerClient, timeoutSeconds, (id, r) -> {
            List<JsonNode> events = harness.stream("/v1/completions", ServerHarness.json("prompt", prompt,
                    "max_tokens", maxTokens, "ignore_eos", true, "temperature", TEMPERATURE, "seed", seed(id, r),
                    "stream", true, "stream_options", Map.of("include_usage", true)));
            int counted = events.getLast().at("/usage/completion_tokens").asInt();
            String finish = events.get(events.size() - 2).at("/choices/0/finish_reason").asText();
            if (counted != maxTokens || !finish.equals("length")) {
                throw new AssertionError("%d tokens, finish %s".formatted(counted, finish));
            }
            return counted;
        });
    }

    /** {@code clients} clients, each sending {@code requestsPerClient} requests by {@code client}. */
    static Result run(int clients, int requestsPerClient, long timeoutSeconds, Client client) throws InterruptedException {
        AtomicLong tokens = new AtomicLong();
        List<String> failures = Collections.synchronizedList(new ArrayList<>());
        long start = System.nanoTime();
        // Platform threads with names of their own, so that a benchmark can tell the clients' processor time from
        // the server's request handlers, which run on virtual threads.
        try (ExecutorService pool = Executors.newThreadPerTaskExecutor(Thread.ofPlatform().name("load-client-", 0).factory())) {
            List<Future<?>> running = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                int id = c;
                running.add(pool.submit(() -> {
                    for (int r = 0; r < requestsPerClient; r++) {
                        try {
                            tokens.addAndGet(client.request(id, r));
                        } catch (Exception | AssertionError e) {
                            failures.add("client %d request %d: %s".formatted(id, r, e));
                        }
                    }
                }));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
            for (Future<?> thread : running) {
                try {
                    thread.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                } catch (ExecutionException | TimeoutException e) {
                    failures.add("a client did not finish in " + timeoutSeconds + " s: " + e);
                    thread.cancel(true);
                }
            }
        }
        return new Result(clients, clients * requestsPerClient, tokens.get(), (System.nanoTime() - start) / 1e9, failures);
    }
}
