package dev.winnow.engine.serve;

import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.engine.model.Pruner;
import dev.winnow.engine.sampling.Sampler;
import dev.winnow.engine.tokenizer.TokenDecoder;
import dev.winnow.engine.tokenizer.Tokenizer;
import org.eclipse.collections.api.list.primitive.MutableIntList;
import org.eclipse.collections.impl.list.mutable.primitive.IntArrayList;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One request inside the scheduler. Everything but {@link #cancelled} and the event queue belongs to the decode
 * loop's thread.
 */
final class Sequence implements SequenceHandle {
    enum Phase { WAITING, PROMPT, DECODING, DONE }

    final long id;
    final int[] prompt;
    final GenerationParams params;
    final int[] stopTokens;
    final Sampler sampler;
    final TokenDecoder decoder;
    final StopMatcher stops;
    final TokenPenalties penalties;
    private final LinkedBlockingQueue<SequenceEvent> events = new LinkedBlockingQueue<>();
    private final Runnable wake;
    volatile boolean cancelled;

    Phase phase = Phase.WAITING;
    /**
     * What to read when admitted: the prompt, or after a preemption the prompt and every generated token already
     * fed, so that the sequence resumes where it was.
     */
    int[] input;
    /** After reading {@link #input}, decode {@link #nextToken} (a resumed sequence) rather than sample a first token. */
    boolean resuming;
    PagedKvCache cache;
    Pruner pruner;
    /** Tokens stored so far: the position the next one takes. */
    int position;
    /** Every token generated so far, in order; the last one is {@link #nextToken} until it is fed. */
    final MutableIntList generated = new IntArrayList();
    /** The sampled token to feed in the next decode step. */
    int nextToken;

    Sequence(long id, GenerationRequest request, Tokenizer tokenizer, Runnable wake) {
        this.id = id;
        this.prompt = request.prompt();
        this.input = prompt;
        this.params = request.params();
        this.stopTokens = request.stopTokens();
        this.wake = wake;
        this.sampler = Sampler.create(params.sampling());
        this.decoder = tokenizer.decoder();
        this.stops = new StopMatcher(params.stop());
        this.penalties = new TokenPenalties(params);
        // The prompt goes through the decoder and the repetition window first, as in Generator: the first
        // generated word then keeps its leading space, and the penalty sees the prompt.
        for (int token : prompt) {
            decoder.next(token);
            sampler.accept(token);
        }
    }

    /** Sets the sequence up to start over from the queue: it will re-read all it had stored, then go on. */
    void preempted() {
        if (phase == Phase.DECODING) {
            int[] fed = new int[position];
            System.arraycopy(prompt, 0, fed, 0, prompt.length);
            for (int i = prompt.length; i < position; i++) {
                fed[i] = generated.get(i - prompt.length);
            }
            input = fed;
            resuming = true;
        }
        phase = Phase.WAITING;
        position = 0;
    }

    boolean isStopToken(int token) {
        for (int stop : stopTokens) {
            if (stop == token) {
                return true;
            }
        }
        return false;
    }

    void send(SequenceEvent event) {
        events.add(event);
    }

    /** Pages this sequence holds in all layers. */
    int pagesHeld() {
        if (cache == null) {
            return 0;
        }
        int pages = 0;
        for (int layer = 0; layer < cache.geometry().layers(); layer++) {
            pages += cache.pageCount(layer);
        }
        return pages;
    }

    @Override
    public int promptTokens() {
        return prompt.length;
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
