package dev.winnow.engine.serve;

import java.util.concurrent.TimeUnit;

/** A request's view of its sequence in the scheduler: its events, and a way to give it up. */
public interface SequenceHandle {

    /** The sequence's id, as {@link ServerMetrics#sequences()} names it. */
    long id();

    /** Tokens of the prompt. */
    int promptTokens();

    /**
     * The next event, waiting up to {@code timeout}; null if none came in time.
     *
     * @throws InterruptedException if the waiting thread is interrupted
     */
    SequenceEvent poll(long timeout, TimeUnit unit) throws InterruptedException;

    /**
     * Gives the sequence up (the client went away): it leaves the queue or the batch before the next step and its
     * KV pages go back to the pool. Safe to call at any time, from any thread, more than once.
     */
    void cancel();
}
