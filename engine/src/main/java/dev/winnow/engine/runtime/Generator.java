package dev.winnow.engine.runtime;

import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/** Drives a sequence: reads a prompt, then samples, streams and reads tokens until a stop condition. */
public final class Generator {

    /** Why generation ended. */
    public enum StopReason { END_OF_GENERATION, TOKEN_LIMIT, CONTEXT_FULL, STOPPED }

    /**
     * What a generation did and how fast.
     *
     * @param firstTokenNanos from the start of reading the prompt until the first generated token was sampled (the
     *                        latency a user waits for; 0 when nothing was generated)
     */
    public record Result(int promptTokens, int generatedTokens, long promptNanos, long generationNanos,
                         long firstTokenNanos, StopReason stopReason) {
        public double promptTokensPerSecond() {
            return rate(promptTokens, promptNanos);
        }

        /** Generated tokens per second, counting the sampling and the forward pass of each. */
        public double generationTokensPerSecond() {
            return rate(generatedTokens, generationNanos);
        }

        /** Generated tokens per second after the first: the steady decoding speed. */
        public double steadyGenerationTokensPerSecond() {
            return generatedTokens < 2 ? 0 : rate(generatedTokens - 1, promptNanos + generationNanos - firstTokenNanos);
        }

        private static double rate(int tokens, long nanos) {
            return nanos == 0 ? 0 : tokens * 1e9 / nanos;
        }
    }

    private Generator() {
    }

    /**
     * Reads {@code prompt} into the sequence, then generates up to {@code maxTokens} tokens (negative: until a stop
     * token or a full context). The decoded text of the prompt (when {@code echoPrompt}) and of each generated
     * token goes to {@code sink} as it is produced. Every generated token is read into the sequence, so a
     * conversation can continue from where generation stopped.
     *
     * @throws ContextFullException when {@code maxTokens} is positive and prompt plus generation cannot fit
     */
    public static Result generate(Sequence sequence, int[] prompt, int maxTokens, boolean echoPrompt,
                                  Consumer<String> sink) {
        return generate(sequence, prompt, maxTokens, echoPrompt, sink, () -> false);
    }

    /**
     * As {@link #generate(Sequence, int[], int, boolean, Consumer)}, ending early (with {@link StopReason#STOPPED})
     * once {@code stopRequested} says so, between two tokens, every token generated so far read into the sequence.
     */
    public static Result generate(Sequence sequence, int[] prompt, int maxTokens, boolean echoPrompt,
                                  Consumer<String> sink, BooleanSupplier stopRequested) {
        if (maxTokens > 0 && (long) prompt.length + maxTokens > sequence.remaining()) {
            throw new ContextFullException(
                    "the prompt (%d tokens) and %d generated tokens need %d positions, but only %d of the context's %d are left; raise --ctx or lower -n"
                            .formatted(prompt.length, maxTokens, (long) prompt.length + maxTokens, sequence.remaining(),
                                    sequence.contextLength()));
        }
        if (prompt.length == 0) {
            throw new IllegalArgumentException("nothing to process: the token list is empty");
        }
        String promptText = sequence.acceptPrompt(prompt);
        if (echoPrompt && !promptText.isEmpty()) {
            sink.accept(promptText);
        }
        long start = System.nanoTime();
        while (!sequence.readBlock()) {
            // one block after the other
        }
        long promptNanos = System.nanoTime() - start;

        long promptStart = start;
        long firstTokenNanos = 0;
        start = System.nanoTime();
        int generated = 0;
        StopReason reason;
        while (true) {
            if (maxTokens >= 0 && generated >= maxTokens) {
                reason = StopReason.TOKEN_LIMIT;
                break;
            }
            if (stopRequested.getAsBoolean()) {
                reason = StopReason.STOPPED;
                break;
            }
            String text = sequence.sampleNext();
            if (text == null) {
                reason = StopReason.END_OF_GENERATION;
                break;
            }
            generated++;
            if (generated == 1) {
                firstTokenNanos = System.nanoTime() - promptStart;
            }
            if (!text.isEmpty()) {
                sink.accept(text);
            }
            if (sequence.full()) {
                reason = StopReason.CONTEXT_FULL;
                break;
            }
            sequence.step();
        }
        String rest = sequence.flush();
        if (!rest.isEmpty()) {
            sink.accept(rest);
        }
        return new Result(prompt.length, generated, promptNanos, System.nanoTime() - start, firstTokenNanos, reason);
    }
}
