package dev.winnow.tests;

import dev.winnow.engine.kv.KvCache;
import dev.winnow.engine.model.LlamaModel;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.model.SequenceState;
import dev.winnow.engine.model.Pruner;
import dev.winnow.tensors.WorkerPool;

/**
 * A sequence read by the forward pass alone, without the runtime: over the plain dense cache, unpruned, it is the
 * reference that the engine's paged sequences and other models are compared with; over any cache and pruner, the
 * baseline the runtime is measured against.
 */
public final class ForwardSequence {
    private final LlamaModel llama;
    private final SequenceState sequence;
    private final LlamaModel.State state;
    private final int block;
    private final int[] single = new int[1];

    /** Reads prompts in blocks of {@code block} tokens with the buffers and workers of {@code state}. */
    public ForwardSequence(Model model, KvCache cache, Pruner pruner, LlamaModel.State state, int block) {
        this.llama = model.llama();
        this.sequence = new SequenceState(cache, pruner);
        this.state = state;
        this.block = block;
    }

    /** Unpruned over a dense cache of the model's context length, on {@code pool}'s threads. */
    public static ForwardSequence dense(Model model, WorkerPool pool) {
        return new ForwardSequence(model, new DenseKvCache(model.config().kvGeometry(model.config().contextLength())),
                Pruner.NONE, model.llama().newState(LlamaModel.DEFAULT_BLOCK, pool), LlamaModel.DEFAULT_BLOCK);
    }

    /** What the forward pass reads of this sequence. */
    public SequenceState state() {
        return sequence;
    }

    /** Reads {@code tokens} in blocks; the logits after the last one. */
    public float[] ingest(int[] tokens) {
        float[] logits = null;
        for (int offset = 0; offset < tokens.length; offset += block) {
            int count = Math.min(block, tokens.length - offset);
            logits = read(tokens, offset, count, offset + count == tokens.length);
        }
        return logits;
    }

    /** Reads {@code tokens[offset ..]} as one block; the logits after it, or null when not asked for. */
    public float[] read(int[] tokens, int offset, int count, boolean logits) {
        float[] out = llama.forward(sequence, tokens, offset, count, state, logits);
        sequence.advance(count);
        return out;
    }

    /** Reads one token; the logits after it. */
    public float[] next(int token) {
        single[0] = token;
        return ingest(single);
    }

    /** Forgets everything read. */
    public void clear() {
        sequence.cache().clear();
        sequence.pruner().reset();
        sequence.rewind();
    }
}
