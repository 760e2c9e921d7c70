package dev.winnow.engine.serve;

import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.Sequence;
import dev.winnow.engine.runtime.SequenceOptions;
import dev.winnow.engine.sampling.Sampler;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One request inside the scheduler: the engine's sequence that generates it, and what the server adds (stop
 * strings, the token limit, the events its client reads). Everything but {@link #cancelled} and the event queue
 * belongs to the decode loop's thread.
 */
final class Request implements SequenceHandle {
    enum Phase { WAITING, PROMPT, DECODING, DONE }

    final long id;
    final GenerationParams params;
    final Sequence sequence;
    final StopMatcher stops;
    private final int promptTokens;
    private final LinkedBlockingQueue<SequenceEvent> events = new LinkedBlockingQueue<>();
    private final Runnable wake;
    volatile boolean cancelled;

    Phase phase = Phase.WAITING;

    Request(long id, GenerationRequest request, Engine engine, Runnable wake) {
        this.id = id;
        this.params = request.params();
        this.wake = wake;
        this.stops = new StopMatcher(params.stop());
        this.promptTokens = request.prompt().length;
        int[] stopTokens = request.stopTokens();
        this.sequence = engine.newSequence(new SequenceOptions(Sampler.create(params.sampling()),
                token -> !params.ignoreEos() && (engine.model().tokenizer().isEndOfGeneration(token)
                        || contains(stopTokens, token)),
                new TokenPenalties(params), null));
        // The prompt goes through the decoder and the repetition window first: the first generated word then
        // keeps its leading space, and the penalty sees the prompt.
        sequence.acceptPrompt(request.prompt());
    }

    /** Tokens generated so far. */
    int generated() {
        return sequence.length() - promptTokens;
    }

    private static boolean contains(int[] tokens, int token) {
        for (int candidate : tokens) {
            if (candidate == token) {
                return true;
            }
        }
        return false;
    }

    void send(SequenceEvent event) {
        events.add(event);
    }

    @Override
    public long id() {
        return id;
    }

    @Override
    public int promptTokens() {
        return promptTokens;
    }

    @Override
    public SequenceEvent poll(long timeout, TimeUnit unit) throws InterruptedException {
        return events.poll(timeout, unit);
    }

    @Override
    public void cancel() {
        if (!cancelled) {
            cancelled = true;
            wake.run();
        }
    }
}
