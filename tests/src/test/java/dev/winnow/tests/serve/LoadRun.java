package dev.winnow.tests.serve;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Concurrent streaming clients against a server: each client sends its requests one after another, every
 * request a streamed completion of exactly {@code maxTokens} tokens ({@code ignore_eos}), checked on arrival.
 */
final class LoadRun {

    /** What a run did: requests answered, tokens streamed, wall time, and what went wrong. */
    record Result(int clients, int requests, long tokens, double seconds, List<String> failures) {
        double tokensPerSecond() {
            return tokens / seconds;
        }
    }

    private LoadRun() {
    }

    static Result run(ServerHarness harness, int clients, int requestsPerClient, int maxTokens, String prompt,
                      long timeoutSeconds) throws InterruptedException {
        AtomicLong tokens = new AtomicLong();
        List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        long start = System.nanoTime();
        // Platform threads with names of their own, so that a benchmark can tell the clients' processor time from
        // the server's request handlers, which run on virtual threads.
        try (ExecutorService pool = Executors.newThreadPerTaskExecutor(Thread.ofPlatform().name("load-client-", 0).factory())) {
            List<Future<?>> running = new ArrayList<>();
            for (int client = 0; client < clients; client++) {
                int id = client;
                running.add(pool.submit(() -> {
                    for (int r = 0; r < requestsPerClient; r++) {
                        try {
                            List<JsonNode> events = harness.stream("/v1/completions", ServerHarness.json("prompt", prompt,
                                    "max_tokens", maxTokens, "ignore_eos", true, "temperature", 0.8, "seed", 1000L * id + r,
                                    "stream", true, "stream_options", Map.of("include_usage", true)));
                            int counted = events.getLast().at("/usage/completion_tokens").asInt();
                            String finish = events.get(events.size() - 2).at("/choices/0/finish_reason").asText();
                            if (counted != maxTokens || !finish.equals("length")) {
                                failures.add("client %d request %d: %d tokens, finish %s".formatted(id, r, counted, finish));
                            }
                            tokens.addAndGet(counted);
                        } catch (Exception | AssertionError e) {
                            failures.add("client %d request %d: %s".formatted(id, r, e));
                        }
                    }
                }));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
            for (Future<?> client : running) {
                try {
                    client.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                    failures.add("a client did not finish in " + timeoutSeconds + " s: " + e);
                    client.cancel(true);
                }
            }
        }
        return new Result(clients, clients * requestsPerClient, tokens.get(), (System.nanoTime() - start) / 1e9, failures);
    }
}
