package dev.winnow.engine.generate;

import dev.winnow.engine.sampling.Sampler;
import dev.winnow.engine.tokenizer.TokenDecoder;
import dev.winnow.engine.tokenizer.Tokenizer;

import java.util.function.IntPredicate;

/** Drives a session: feeds a prompt, then samples, streams and feeds tokens until a stop condition. */
public final class Generator {

    /** Why generation ended. */
    public enum StopReason { END_OF_GENERATION, TOKEN_LIMIT, CONTEXT_FULL }

    /** Receives each piece of text as soon as it decodes to whole characters. */
    @FunctionalInterface
    public interface TextSink {
        void accept(String text);
    }

    /** What a generation did and how fast. */
    public record Result(int promptTokens, int generatedTokens, long promptNanos, long generationNanos,
                         StopReason stopReason) {
        public double promptTokensPerSecond() {
            return rate(promptTokens, promptNanos);
        }

        /** Generated tokens per second, counting the sampling and the forward pass of each. */
        public double generationTokensPerSecond() {
            return rate(generatedTokens, generationNanos);
        }

        private static double rate(int tokens, long nanos) {
            return nanos == 0 ? 0 : tokens * 1e9 / nanos;
        }
    }

    private Generator() {
    }

    /**
     * Feeds {@code prompt} to the session, then generates up to {@code maxTokens} tokens (negative: until the
     * end of generation or a full context). The decoded text of the prompt (when {@code echoPrompt}) and of
     * each generated token goes to {@code sink} as it is produced. Every emitted token is also fed to the
     * session, so a conversation can continue from where generation stopped.
     *
     * @param isStop tokens that end generation without being emitted (end-of-generation tokens)
     * @throws ContextFullException when {@code maxTokens} is positive and prompt plus generation cannot fit
     */
    public static Result generate(Session session, int[] prompt, int maxTokens, Sampler sampler, IntPredicate isStop,
                                  boolean echoPrompt, TextSink sink) {
        if (maxTokens > 0 && (long) prompt.length + maxTokens > session.remaining()) {
            throw new ContextFullException(
                    "the prompt (%d tokens) and %d generated tokens need %d positions, but only %d of the context's %d are left; raise --ctx or lower -n"
                            .formatted(prompt.length, maxTokens, (long) prompt.length + maxTokens, session.remaining(),
                                    session.contextLength()));
        }
        Tokenizer tokenizer = session.model().tokenizer();
        TokenDecoder decoder = tokenizer.decoder();
        for (int token : prompt) {
            String text = decoder.next(token);
            if (echoPrompt && !text.isEmpty()) {
                sink.accept(text);
            }
            sampler.accept(token);
        }

        long start = System.nanoTime();
        float[] logits = session.ingest(prompt);
        long promptNanos = System.nanoTime() - start;

        start = System.nanoTime();
        int generated = 0;
        StopReason reason;
        while (true) {
            if (maxTokens >= 0 && generated >= maxTokens) {
                reason = StopReason.TOKEN_LIMIT;
                break;
            }
            int token = sampler.sample(logits);
            if (isStop.test(token)) {
                reason = StopReason.END_OF_GENERATION;
                break;
            }
            sampler.accept(token);
            generated++;
            String text = decoder.next(token);
            if (!text.isEmpty()) {
                sink.accept(text);
            }
            if (session.remaining() == 0) {
                reason = StopReason.CONTEXT_FULL;
                break;
            }
            logits = session.next(token);
        }
        String rest = decoder.flush();
        if (!rest.isEmpty()) {
            sink.accept(rest);
        }
        return new Result(prompt.length, generated, promptNanos, System.nanoTime() - start, reason);
    }
}
