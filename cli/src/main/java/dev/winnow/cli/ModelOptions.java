package dev.winnow.cli;

import dev.winnow.engine.model.Model;
import dev.winnow.tensors.WorkerPool;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;

/** The options every command that runs a model shares. */
final class ModelOptions {
    @Option(names = {"-m", "--model"}, required = true, paramLabel = "MODEL", description = "GGUF model file.")
    Path model;

    @Option(names = {"-t", "--threads"}, paramLabel = "N",
            description = "Worker threads for the matrix work (default: the number of cores, ${DEFAULT-VALUE}).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = {"-c", "--ctx"}, paramLabel = "N",
            description = "Context length in tokens (default: the model's own).")
    int contextLength;

    /** Loads the model, reporting the time it took on {@code log}. */
    Model load(PrintWriter log) throws IOException {
        return load(log, null);
    }

    /** Loads the model with a pruning adapter laid over it (null: none). */
    Model load(PrintWriter log, Path adapter) throws IOException {
        validate();
        long start = System.nanoTime();
        Model loaded = Model.load(model, adapter);
        if (contextLength > loaded.config().contextLength()) {
            log.printf("winnow: note: --ctx %d is longer than the %d tokens the model was trained for%n",
                    contextLength, loaded.config().contextLength());
        }
        log.printf("winnow: loaded %s (%d layers, dim %d, vocabulary %d) in %.0f ms%n", model.getFileName(),
                loaded.config().layers(), loaded.config().dim(), loaded.config().vocabularySize(),
                (System.nanoTime() - start) / 1e6);
        log.flush();
        return loaded;
    }

    /** The context length of a session: --ctx, or the model's own. */
    int contextLength(Model model) {
        return contextLength > 0 ? contextLength : model.config().contextLength();
    }

    WorkerPool pool() {
        return new WorkerPool(threads);
    }

    void validate() {
        if (threads < 1) {
            throw new UserInputException("--threads must be at least 1, got " + threads);
        }
        if (contextLength < 0) {
            throw new UserInputException("--ctx must be positive, got " + contextLength);
        }
    }
}
