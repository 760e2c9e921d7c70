package dev.winnow.cli;

import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.pruning.PruningTrace;
import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.Generator;
import dev.winnow.engine.runtime.Sequence;
import dev.winnow.engine.runtime.SequenceOptions;
import dev.winnow.engine.sampling.Sampler;
import dev.winnow.engine.tokenizer.TextFile;
import dev.winnow.engine.tokenizer.Tokenizer;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code winnow generate}: continue a prompt, streaming the text as it is produced. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate text from a prompt. The prompt and the generated text go to stdout as they are "
                + "produced; load time and speed go to stderr.")
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelFile modelFile;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    SamplingOptions samplingOptions;

    @Mixin
    KvOptions kvOptions;

    @Mixin
    PruneOptions pruneOptions;

    @ArgGroup(multiplicity = "1")
    PromptSource promptSource;

    /** The prompt, given on the command line or in a file (as llama.cpp's -p and -f). */
    static final class PromptSource {
        @Option(names = {"-p", "--prompt"}, required = true, paramLabel = "TEXT", description = "The prompt.")
        String text;

        @Option(names = {"-f", "--file"}, required = true, paramLabel = "FILE", description = "Read the prompt from a UTF-8 file.")
        Path file;

        String read() throws IOException {
            return text != null ? text : TextFile.readUtf8(file);
        }
    }

    @Option(names = "--stats", description = "After generating, print the KV cache per layer: live tokens, pages, "
            + "free slots, bytes held against a dense cache.")
    boolean stats;

    @Option(names = {"-n", "--tokens", "--n-predict"}, paramLabel = "N",
            description = "Tokens to generate; -1 generates until the end of text or a full context (default: ${DEFAULT-VALUE}).")
    int tokens = 256;

    @Option(names = "--explain", paramLabel = "FILE.html",
            description = "Write a self-contained page showing which tokens each layer dropped, and when.")
    Path explainHtml;

    @Option(names = "--explain-json", paramLabel = "FILE",
            description = "Write the pruning trace as JSON: per token, its id, text, position and, per layer, the drop step and score.")
    Path explainJson;

    @Override
    public Integer call() throws Exception {
        if (tokens < -1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "-n must be -1 or more, got " + tokens);
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Sampler sampler = Sampler.create(samplingOptions.config());
        PruningPolicy policy = pruneOptions.policy();
        modelOptions.validate();
        requireWritable(explainHtml, "--explain");
        requireWritable(explainJson, "--explain-json");
        try (Model model = modelFile.load(err, pruneOptions.adapter);
             Engine engine = modelOptions.engine(model, kvOptions.config(), policy, 1, err)) {
            Tokenizer tokenizer = model.tokenizer();
            int[] promptTokens = tokenizer.encode(promptSource.read(), model.vocabulary().addBos(), true);
            if (promptTokens.length == 0) {
                throw new UserInputException("the prompt is empty and the model adds no BOS token: nothing to start from");
            }
            boolean tracing = explainHtml != null || explainJson != null;
            PruningTrace trace = tracing ? new PruningTrace(model.config().layers()) : null;
            Sequence sequence = engine.newSequence(
                    new SequenceOptions(sampler, tokenizer::isEndOfGeneration, null, trace));
            Generator.Result result;
            try {
                result = Generator.generate(sequence, promptTokens, tokens, true, text -> {
                    out.print(text);
                    out.flush();
                });
            } finally {
                out.println();
                out.flush();
                if (trace != null) {
                    writeExplanations(trace, model, policy, promptTokens.length, err);
                }
            }
            err.println("winnow: " + summary(result));
            if (policy instanceof PruningPolicy.Dcp) {
                new ThinLayerWarning(model.config().layers()).check(sequence.cache(), err);
            }
            err.flush();
            if (stats) {
                KvStatsTable.print(err, sequence.cache(), policy);
            }
        }
        return 0;
    }

    /**
     * How long the first token took, apart from the steady speeds: the first forward passes of a process run
     * before the kernels are compiled, so a short prompt's rate alone reads as far slower than the engine is.
     */
    static String summary(Generator.Result result) {
        return String.format(Locale.ROOT, "first token after %.2f s | prompt %,d tokens, %.1f tok/s | generated %,d "
                        + "tokens, %.1f tok/s after the first | stop: %s", result.firstTokenNanos() / 1e9,
                result.promptTokens(), result.promptTokensPerSecond(), result.generatedTokens(),
                result.steadyGenerationTokensPerSecond(), result.stopReason().name().toLowerCase(Locale.ROOT).replace('_', ' '));
    }

    private void writeExplanations(PruningTrace trace, Model model, PruningPolicy policy, int promptTokens,
                                   PrintWriter err) throws IOException {
        String module = !(policy instanceof PruningPolicy.Dcp) ? null
                : pruneOptions.adapter != null ? pruneOptions.adapter.getFileName().toString()
                : modelFile.path(err).getFileName() + " (its own module)";
        Explanation explanation = Explanation.of(trace, model.tokenizer(), model.vocabulary(),
                modelFile.path(err).getFileName().toString(), module, policy.toString(), promptTokens);
        if (explainJson != null) {
            explanation.writeJson(explainJson);
            err.println("winnow: pruning trace written to " + explainJson);
        }
        if (explainHtml != null) {
            explanation.writeHtml(explainHtml);
            err.println("winnow: pruning page written to " + explainHtml);
        }
    }

    /** An output named on the command line is checked before any work, not after a whole generation. */
    private static void requireWritable(Path file, String option) {
        if (file == null) {
            return;
        }
        Path parent = file.toAbsolutePath().getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw new UserInputException("%s %s: the folder %s does not exist".formatted(option, file, parent));
        }
        if (!Files.isWritable(parent) || Files.isDirectory(file) || Files.exists(file) && !Files.isWritable(file)) {
            throw new UserInputException("%s %s: cannot write there".formatted(option, file));
        }
    }
}
