package dev.winnow.cli;

import dev.winnow.engine.model.Model;
import dev.winnow.tensors.WorkerPool;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;

/** The options every command that runs a model shares. */
final class ModelOptions {
    @Option(names = {"-m", "--model"}, paramLabel = "MODEL", description = "GGUF model file.")
    Path model;

    @Option(names = {"-hf", "--hf"}, paramLabel = "REPO:FILE",
            description = "Instead of -m: a GGUF file on the Hugging Face hub, downloaded into the cache once (see pull).")
    String hubFile;

    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = {"-t", "--threads"}, paramLabel = "N",
            description = "Worker threads for the matrix work (default: the number of cores, ${DEFAULT-VALUE}).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = {"-c", "--ctx"}, paramLabel = "N",
            description = "Context length in tokens (default: the model's own).")
    Integer contextLength;

    /** Loads the model, reporting the time it took on {@code log}. */
    Model load(PrintWriter log) throws IOException {
        return load(log, null);
    }

    /** Loads the model with a pruning adapter laid over it (null: none). */
    Model load(PrintWriter log, Path adapter) throws IOException {
        validate();
        Path path = model != null ? model : HubDownloader.configured(null, null, System.getenv(), log).fetch(hubFile);
        long start = System.nanoTime();
        Model loaded = Model.load(path, adapter);
        if (contextLength != null && contextLength > loaded.config().contextLength()) {
            log.printf("winnow: note: --ctx %d is longer than the %d tokens the model was trained for%n",
                    contextLength, loaded.config().contextLength());
        }
        log.printf("winnow: loaded %s (%d layers, dim %d, vocabulary %d) in %.0f ms%n", path.getFileName(),
                loaded.config().layers(), loaded.config().dim(), loaded.config().vocabularySize(),
                (System.nanoTime() - start) / 1e6);
        log.flush();
        return loaded;
    }

    /** The context length of a session: --ctx, or the model's own. */
    int contextLength(Model model) {
        return contextLength != null ? contextLength : model.config().contextLength();
    }

    WorkerPool pool() {
        return new WorkerPool(threads);
    }

    void validate() {
        if ((model == null) == (hubFile == null)) {
            throw new CommandLine.ParameterException(spec.commandLine(), model == null
                    ? "Missing required option: '--model=MODEL' (or --hf REPO:FILE)"
                    : "give the model either with --model or with --hf, not both");
        }
        ThreadCount.check(spec, threads);
        if (contextLength != null && contextLength < 1) {
            throw new UserInputException("--ctx must be positive, got " + contextLength);
        }
    }
}
