package dev.winnow.engine.runtime;

import dev.winnow.engine.kv.KvCacheFullException;
import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.engine.model.LlamaModel;
import dev.winnow.engine.model.SequenceState;
import dev.winnow.engine.model.Pruner;
import dev.winnow.engine.tokenizer.TokenDecoder;

/**
 * One sequence of an {@link Engine}: its cache and pruner, its tokens and position, its sampler, text decoder and
 * stop tokens. Tokens are first <em>accepted</em> (they join the sequence: the decoder, the repetition window and
 * the pruning trace see them) and then <em>read</em> by the model: a prompt in blocks ({@link #prefill},
 * {@link #readBlock}), everything after it one token per step ({@link #step}, or {@link Engine#step} for a batch).
 * {@link #suspend} gives the pages back; reading then starts over with the same tokens in the same blocks and
 * steps, so the cache ends as it would have without the pause, whatever the pruning policy.
 */
public final class Sequence {
    private final Engine engine;
    private final SequenceOptions options;
    private final PagedKvCache cache;
    private final Pruner pruner;
    /** What the forward pass reads: the cache, the pruner and the position the next token takes. */
    final SequenceState state;
    private final TokenDecoder decoder;
    /**
     * Every accepted token; {@code tokens[position ..]} wait to be read. One more than the context: the last token
     * generated into a full context is accepted (and shown) but never read.
     */
    private final int[] tokens;
    private int length;
    /** Accepted tokens up to here are a prompt, read in blocks; later ones are read one per step. */
    private int promptEnd;
    private float[] logits;
    private int logitsOffset;

    Sequence(Engine engine, SequenceOptions options) {
        this.engine = engine;
        this.options = options;
        this.cache = new PagedKvCache(engine.pages(), engine.geometry());
        this.pruner = engine.config().pruning().create(engine.model(), cache, options.trace());
        this.state = new SequenceState(cache, pruner);
        this.decoder = engine.model().tokenizer().decoder();
        this.tokens = new int[engine.geometry().capacity() + 1];
    }

    public PagedKvCache cache() {
        return cache;
    }

    /** Tokens read so far (stored in the cache): the position the next one takes. */
    public int position() {
        return state.position();
    }

    public int contextLength() {
        return tokens.length - 1;
    }

    /** Tokens that can still be accepted and read before the context is full. */
    public int remaining() {
        return Math.max(0, contextLength() - length);
    }

    /** Whether the last accepted token has no room in the context: the sequence cannot go on. */
    public boolean full() {
        return length > contextLength();
    }

    /** Accepted tokens, read or not. */
    public int length() {
        return length;
    }

    /** Accepted token {@code index}. */
    public int token(int index) {
        return tokens[index];
    }

    /**
     * Accepts a prompt, to be read in blocks, and returns its text.
     *
     * @throws ContextFullException when it does not fit in what is left of the context
     */
    public String acceptPrompt(int[] prompt) {
        requireRoom(prompt.length);
        StringBuilder text = new StringBuilder();
        for (int token : prompt) {
            text.append(record(token));
        }
        promptEnd = length;
        return text.toString();
    }

    /**
     * Accepts one token, to be read by the next {@link #step}, and returns its text (empty while a character is
     * incomplete).
     *
     * @throws ContextFullException when the context is full
     */
    public String accept(int token) {
        if (full()) {
            requireRoom(1);
        }
        if (options.adjustment() != null) {
            options.adjustment().accept(token);
        }
        return record(token);
    }

    private String record(int token) {
        tokens[length++] = token;
        options.sampler().accept(token);
        if (options.trace() != null) {
            options.trace().token(token);
        }
        return decoder.next(token);
    }

    /** Accepts {@code prompt} and reads it; returns the logits after its last token (valid until the next pass). */
    public float[] prefill(int[] prompt) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("nothing to process: the token list is empty");
        }
        acceptPrompt(prompt);
        while (!readBlock()) {
            // one block after the other
        }
        return logits;
    }

    /**
     * Reads the next block (up to {@link LlamaModel#DEFAULT_BLOCK} tokens) of the accepted prompt.
     *
     * @return true when the whole prompt is read
     * @throws KvCacheFullException when the pool cannot hold the block (then {@link #suspend} and try later)
     */
    public boolean readBlock() {
        int position = state.position();
        if (position < promptEnd) {
            int count = nextRead();
            boolean caughtUp = position + count == length;
            float[] out = engine.model().llama().forward(state, tokens, position, count, engine.state(), caughtUp);
            advance(count, out, 0);
        }
        return state.position() >= promptEnd;
    }

    /** Reads the next accepted token alone and returns the logits after it (valid until the next pass). */
    public float[] step() {
        pendingToken();
        float[] out = engine.model().llama().forward(state, tokens, state.position(), 1, engine.state(), true);
        advance(1, out, 0);
        return logits;
    }

    /** Accepts {@code token} and reads it (teacher forcing): the logits after it, valid until the next pass. */
    public float[] feed(int token) {
        accept(token);
        return step();
    }

    /** Whether every accepted token is read, so that the logits are those of the next token. */
    public boolean caughtUp() {
        return state.position() == length;
    }

    /** The next token waiting to be read one at a time. */
    private int pendingToken() {
        int position = state.position();
        if (position >= length || position < promptEnd) {
            throw new IllegalStateException("sequence has no token to read by itself: %d accepted, %d read, prompt %d"
                    .formatted(length, position, promptEnd));
        }
        return tokens[position];
    }

    /**
     * How many tokens the sequence reads next in an {@link Engine#step}: the next block of its prompt, as
     * {@link #readBlock} reads it, or its next token alone.
     *
     * @throws IllegalStateException when every accepted token is read
     */
    public int nextRead() {
        int position = state.position();
        if (position < promptEnd) {
            return Math.min(LlamaModel.DEFAULT_BLOCK, promptEnd - position);
        }
        pendingToken();
        return 1;
    }

    /** Copies the tokens {@link #nextRead} counts to {@code to[offset ..]}. */
    void copyNextRead(int[] to, int offset) {
        System.arraycopy(tokens, state.position(), to, offset, nextRead());
    }

    /** Whether the next tokens to read are a prompt's, read in blocks. */
    public boolean readingPrompt() {
        return state.position() < promptEnd;
    }

    void advance(int count, float[] out, int offset) {
        state.advance(count);
        logits = out;
        logitsOffset = offset;
    }

    /**
     * Picks the next token from the logits: null when it is a stop token (not accepted), else its text (it is
     * accepted and read by the next step).
     */
    public String sampleNext() {
        return sampleNext(engine.logitsRows[0]);
    }

    /** {@link #sampleNext()} with {@code row} to adjust the logits in. */
    String sampleNext(float[] row) {
        System.arraycopy(logits, logitsOffset, row, 0, row.length);
        if (options.adjustment() != null) {
            options.adjustment().apply(row);
        }
        int token = options.sampler().sample(row);
        return options.stop().test(token) ? null : accept(token);
    }

    /** The text the decoder still holds (an incomplete character), which ends the sequence's text. */
    public String flush() {
        return decoder.flush();
    }

    /**
     * Gives every page back and sets the sequence to read all its tokens again, prompt in blocks and the rest one
     * per step, as the first time; the sampler, decoder and trace keep their state.
     */
    public void suspend() {
        cache.clear();
        pruner.reset();
        state.rewind();
        logits = null;
    }

    /** Forgets the whole sequence (a new conversation); only the sampler keeps its random state. */
    public void reset() {
        suspend();
        length = 0;
        promptEnd = 0;
        if (options.trace() != null) {
            options.trace().clear();
        }
    }

    /** Pages this sequence holds in all layers. */
    public int pagesHeld() {
        int held = 0;
        for (int layer = 0; layer < engine.geometry().layers(); layer++) {
            held += cache.pageCount(layer);
        }
        return held;
    }

    /**
     * The most new pages storing {@code count} more tokens takes, over all layers: pages whose free slots
     * cannot hold them (pruning only ever frees slots).
     */
    public int pagesForNextTokens(int count) {
        int pageSize = engine.pages().pageSize();
        int need = 0;
        for (int layer = 0; layer < engine.geometry().layers(); layer++) {
            int free = cache.pageCount(layer) * pageSize - cache.tokens(layer);
            need += Math.max(0, (count - free + pageSize - 1) / pageSize);
        }
        return need;
    }

    private void requireRoom(int count) {
        if (count > remaining()) {
            throw new ContextFullException(
                    "context full: %d tokens are in the context and %d more were asked for, but it holds %d (model trained for %d); raise --ctx or shorten the input"
                            .formatted(length, count, contextLength(), engine.model().config().contextLength()));
        }
    }
}
