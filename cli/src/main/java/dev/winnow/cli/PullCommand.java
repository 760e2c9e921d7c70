package dev.winnow.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code winnow pull}: downloads a GGUF file from the Hugging Face hub into the cache and prints its path. */
@Command(name = "pull", mixinStandardHelpOptions = true,
        description = {"Download a file from the Hugging Face hub into the cache (resuming a partial download, checking "
                + "size and SHA-256 when the hub gives them) and print its path.",
                "The same file can then be used with --hf REPO:FILE on generate and chat."})
final class PullCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "REPO", description = "Repository, e.g. owner/model-GGUF.")
    String repo;

    @Parameters(index = "1", paramLabel = "FILE", description = "File in the repository, e.g. model-q4_k_m.gguf.")
    String file;

    @Option(names = "--cache-dir", paramLabel = "DIR",
            description = "Cache folder (default: $" + HubDownloader.CACHE_VARIABLE + ", else ~/.cache/winnow).")
    Path cacheDir;

    @Option(names = "--endpoint", paramLabel = "URL",
            description = "Hub address (default: $" + HubDownloader.ENDPOINT_VARIABLE + ", else " + HubDownloader.DEFAULT_ENDPOINT + ").")
    String endpoint;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        HubDownloader hub = HubDownloader.configured(endpoint, cacheDir, System.getenv(), err);
        boolean cached = Files.isRegularFile(hub.cachedPath(repo, file));
        Path path = hub.fetch(repo, file);
        if (cached) {
            err.println("winnow: " + repo + "/" + file + " is already in the cache");
            err.flush();
        }
        PrintWriter out = spec.commandLine().getOut();
        out.println(path);
        out.flush();
        return 0;
    }
}
