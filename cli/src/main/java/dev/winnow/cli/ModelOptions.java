package dev.winnow.cli;

import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.EngineConfig;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;

/** How the commands that run a model run it: threads and context length. */
final class ModelOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = {"-t", "--threads"}, paramLabel = "N",
            description = "Worker threads for the matrix work (default: the number of cores, ${DEFAULT-VALUE}).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = {"-c", "--ctx", "--ctx-size"}, paramLabel = "N",
            description = "Context length in tokens (default: the model's own; perplexity: 512).")
    Integer contextLength;

    /** llama.cpp's GPU offload flag, accepted so that a command copied from it runs, with a word on what it does here. */
    @Option(names = {"-ngl", "--n-gpu-layers", "--gpu-layers"}, paramLabel = "N", hidden = true)
    void gpuLayers(int layers) {
        spec.commandLine().getErr().println("winnow: note: Winnow runs on the CPU; -ngl " + layers
                + " has no effect here");
    }

    /** The context length of a sequence: --ctx, or the model's own. */
    int contextLength(Model model) {
        return contextLength(model, model.config().contextLength());
    }

    /** The context length of a sequence: --ctx, or {@code fallback} where the command has its own default. */
    int contextLength(Model model, int fallback) {
        return contextLength != null ? contextLength : Math.min(fallback, model.config().contextLength());
    }

    void validate() {
        ThreadCount.check(spec, threads);
        if (contextLength != null && contextLength < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--ctx must be positive, got " + contextLength);
        }
    }

    /**
     * The engine every command runs {@code model} with: these options, the cache layout and pruning policy, and
     * room for {@code batchSize} sequences decoded together.
     */
    Engine engine(Model model, KvCacheConfig kv, PruningPolicy policy, int batchSize, PrintWriter log) {
        return engine(model, kv, policy, batchSize, log, contextLength(model));
    }

    /** As {@link #engine(Model, KvCacheConfig, PruningPolicy, int, PrintWriter)}, with sequences of {@code context} tokens. */
    Engine engine(Model model, KvCacheConfig kv, PruningPolicy policy, int batchSize, PrintWriter log, int context) {
        validate();
        if (context > model.config().contextLength()) {
            log.printf("winnow: warning: a context of %,d tokens is longer than the %,d tokens the model was trained for%n",
                    context, model.config().contextLength());
        }
        try {
            return new Engine(model, new EngineConfig(threads, context, kv, policy, batchSize));
        } catch (IllegalArgumentException e) {
            throw new UserInputException(e.getMessage());
        }
    }
}
