package dev.winnow.tests.runtime;

import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.engine.model.LlamaModel;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.EngineConfig;
import dev.winnow.engine.runtime.Sequence;
import dev.winnow.engine.runtime.SequenceOptions;
import dev.winnow.tensors.VectorMath;
import dev.winnow.tensors.WorkerPool;
import dev.winnow.tests.ForwardSequence;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;

/**
 * Run by {@link DecodeAllocationTest} in a JVM of its own, with the model file as argument. For each policy it
 * decodes 64 tokens through the runtime (sample, then read the token: the loop of generate and of the server), and
 * 64 through the bare forward pass over a cache and pruner of the same kind, round after round; what the runtime
 * allocates per token is the difference. The forward pass's kernels are the same compiled code in both loops
 * (whether the JIT lets them box vectors differs from one JVM to the next, and is no concern of the runtime's),
 * so the difference is the runtime's own: the text of each token, nothing else. It prints both figures of the
 * first round under {@link #LIMIT} per policy and "ok", or exits with status 1 after 60 rounds without one.
 */
final class DecodeAllocationCheck {
    /** Bytes per token: room for one token's text, far below any buffer of the model or the cache. */
    static final long LIMIT = 128;
    private static final int[] PROMPT = {1, 403, 407, 261, 378};
    private static final int TOKENS = 64;

    private DecodeAllocationCheck() {
    }

    public static void main(String[] args) throws Exception {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (Model model = Model.load(Path.of(args[0])); WorkerPool pool = new WorkerPool(1)) {
            for (PruningPolicy policy : new PruningPolicy[] {new PruningPolicy.None(), new PruningPolicy.Window(4, 32)}) {
                // room for two sequences: the runtime's and the bare one
                try (Engine engine = new Engine(model, new EngineConfig(1, PROMPT.length + TOKENS + 1,
                        KvCacheConfig.defaults(), policy, 2))) {
                    Sequence sequence = engine.newSequence(SequenceOptions.forced(null));
                    PagedKvCache cache = new PagedKvCache(engine.pages(), engine.geometry());
                    ForwardSequence bare = new ForwardSequence(model, cache, policy.create(model, cache, null),
                            model.llama().newState(LlamaModel.DEFAULT_BLOCK, pool), LlamaModel.DEFAULT_BLOCK);
                    long extra = Long.MAX_VALUE;
                    for (int round = 0; round < 60 && extra >= LIMIT; round++) {
                        sequence.reset(); // pages go back to the pool and are reused: none is made while measuring
                        sequence.prefill(PROMPT);
                        long before = threads.getCurrentThreadAllocatedBytes();
                        for (int i = 0; i < TOKENS; i++) {
                            sequence.sampleNext();
                            sequence.step();
                        }
                        long runtime = (threads.getCurrentThreadAllocatedBytes() - before) / TOKENS;
                        long forward = decode(bare, threads) / TOKENS;
                        extra = runtime - forward;
                        if (extra < LIMIT || round == 59) {
                            System.out.printf("%s: %d bytes per token through the runtime, %d through the forward pass alone%n",
                                    policy, runtime, forward);
                        }
                    }
                    if (extra >= LIMIT) {
                        System.out.println(policy + ": the runtime allocated " + extra + " bytes per token");
                        System.exit(1);
                    }
                }
            }
        }
        System.out.println("ok");
    }

    /** Bytes allocated while {@code bare} decodes {@link #TOKENS} tokens greedily after the prompt. */
    private static long decode(ForwardSequence bare, com.sun.management.ThreadMXBean threads) {
        bare.clear();
        float[] logits = bare.ingest(PROMPT);
        long before = threads.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < TOKENS; i++) {
            logits = bare.next(VectorMath.argmax(logits, 0, logits.length));
        }
        return threads.getCurrentThreadAllocatedBytes() - before;
    }
}
