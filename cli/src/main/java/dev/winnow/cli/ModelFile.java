package dev.winnow.cli;

import dev.winnow.engine.model.Model;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;

/**
 * The model file a command reads, given as a path ({@code -m}) or as a file on the Hugging Face hub
 * ({@code --hf}, downloaded into the cache once). Every command that takes a model names it this way and reads
 * the one resolved {@link #path}.
 */
final class ModelFile {
    @Option(names = {"-m", "--model"}, paramLabel = "MODEL", description = "GGUF model file.")
    Path model;

    @Option(names = {"-hf", "--hf"}, paramLabel = "REPO:FILE",
            description = "Instead of -m: a GGUF file on the Hugging Face hub, downloaded into the cache once (see pull).")
    String hubFile;

    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    private Path resolved;

    /** The local file: {@code -m}, or the hub file in the cache (downloaded first if it is not there yet). */
    Path path(PrintWriter log) throws IOException {
        if (resolved == null) {
            if ((model == null) == (hubFile == null)) {
                throw new CommandLine.ParameterException(spec.commandLine(), model == null
                        ? "Missing required option: '--model=MODEL' (or --hf REPO:FILE)"
                        : "give the model either with --model or with --hf, not both");
            }
            resolved = model != null ? model : HubDownloader.configured(null, null, System.getenv(), log).fetch(hubFile);
        }
        return resolved;
    }

    /** The file's name without {@code .gguf}: the model's name where one is shown. */
    String name(PrintWriter log) throws IOException {
        String name = path(log).getFileName().toString();
        return name.endsWith(".gguf") ? name.substring(0, name.length() - ".gguf".length()) : name;
    }

    /** Loads the model with a pruning adapter laid over it (null: none), reporting the time it took on {@code log}. */
    Model load(PrintWriter log, Path adapter) throws IOException {
        return LoadProgress.load(log, path(log), adapter);
    }
}
