package dev.winnow.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.training.PerplexityEvaluator;
import dev.winnow.engine.training.TextCorpus;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code winnow perplexity}: teacher-forced perplexity of a text with pruning applied exactly as at inference,
 * with the kept fraction and sparsity of the cache, and optionally the agreement with a dense base model.
 */
@Command(name = "perplexity", mixinStandardHelpOptions = true,
        description = {"Measure the perplexity of a text, token by token through the paged KV cache with the chosen "
                + "pruning, in consecutive windows of --ctx tokens (documents separated by lines holding only "
                + "<|endoftext|>, each starting with BOS). Results on stdout, progress on stderr.",
                "Windows are " + PerplexityCommand.DEFAULT_CONTEXT + " tokens unless --ctx says otherwise (or the model's "
                        + "context, if shorter), as in llama.cpp: the context in a model's metadata is often far longer "
                        + "than the texts it was trained on, and makes a run slow."})
final class PerplexityCommand implements Callable<Integer> {
    static final int DEFAULT_CONTEXT = 512;

    @Spec
    CommandSpec spec;

    @Mixin
    ModelFile modelFile;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    PruneOptions pruneOptions;

    @Option(names = {"-f", "--file"}, required = true, paramLabel = "TEXT", description = "The text (UTF-8).")
    Path text;

    @Option(names = "--kl-base", paramLabel = "BASE.gguf",
            description = "Also compare with this dense model: mean KL divergence of the next-token distributions and top-1 agreement.")
    Path klBase;

    @Option(names = "--json", description = "Print one JSON object instead of text.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        PruningPolicy policy = pruneOptions.policy();
        modelOptions.validate();
        try (Model model = modelFile.load(err, pruneOptions.adapter);
             Model base = klBase == null ? null : LoadProgress.load(err, klBase, null);
             Engine engine = modelOptions.engine(model, KvCacheConfig.defaults(), policy, 1, err,
                     modelOptions.contextLength(model, DEFAULT_CONTEXT));
             Engine baseEngine = base == null ? null
                     : modelOptions.engine(base, KvCacheConfig.defaults(), new PruningPolicy.None(), 1, err,
                     engine.config().contextLength())) {
            int contextLength = engine.config().contextLength();
            int[] stream = TextCorpus.tokenize(text, model.tokenizer(), model.vocabulary().addBos() && model.tokenizer().bos() >= 0);
            Progress progress = Progress.start(err, "perplexity",
                    PerplexityEvaluator.windowCount(stream.length, contextLength), "windows");
            long start = System.nanoTime();
            PerplexityEvaluator.Result result;
            try {
                result = PerplexityEvaluator.measure(engine, baseEngine, stream, (windows, tokens, perplexity) ->
                        progress.update(windows, String.format(Locale.ROOT, "ppl %.4f over %,d tokens", perplexity, tokens)));
            } catch (IllegalArgumentException e) {
                throw new UserInputException(e.getMessage());
            }
            progress.finish(String.format(Locale.ROOT, "winnow: %,d tokens in %.1f s", result.tokens(),
                    (System.nanoTime() - start) / 1e9));
            if (json) {
                ObjectMapper mapper = new ObjectMapper();
                ObjectNode node = mapper.createObjectNode();
                node.put("model", modelFile.path(err).getFileName().toString());
                node.put("prune", policy.toString());
                node.put("ctx", contextLength);
                node.put("perplexity", result.perplexity());
                node.put("kept_fraction", result.keptFraction());
                node.put("sparsity", result.sparsity());
                node.put("tokens", result.tokens());
                node.put("windows", result.windows());
                if (base != null) {
                    node.put("kl", result.kl());
                    node.put("top1_agreement", result.top1Agreement());
                }
                out.println(mapper.writeValueAsString(node));
            } else {
                out.printf(Locale.ROOT, "perplexity %.4f over %,d tokens (%,d windows of up to %,d), pruning %s%n", result.perplexity(),
                        result.tokens(), result.windows(), contextLength, policy);
                out.printf("kept fraction %.4f at the end of a window, sparsity %.4f%n", result.keptFraction(), result.sparsity());
                if (base != null) {
                    out.printf("against %s: KL %.5f per token, top-1 agreement %.4f%n", klBase.getFileName(), result.kl(),
                            result.top1Agreement());
                }
            }
            out.flush();
        }
        return 0;
    }
}
