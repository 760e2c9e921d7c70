package dev.winnow.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.model.DcpCalibration;
import dev.winnow.engine.pruning.DcpTarget;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.training.PerplexityEvaluator;
import dev.winnow.engine.training.TextCorpus;
import dev.winnow.gguf.GgufFile;
import dev.winnow.gguf.GgufTensorInfo;
import dev.winnow.gguf.GgufWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
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

    @Option(names = "--calibrate", paramLabel = "OUT.gguf", description = "With --prune dcp: then measure, on this "
            + "text, what fraction the module keeps with each of a series of offsets added to every layer's bias "
            + "(a pass over the text each, up to 80), and write a copy of the file holding the module (the model, "
            + "or --prune-adapter) with that table, from which dcp:keep=F takes the offset for F.")
    Path calibrated;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        PruningPolicy policy = pruneOptions.policy();
        modelOptions.validate();
        if (calibrated != null && !(policy instanceof PruningPolicy.Dcp(DcpTarget.Own _, int recent) && recent == 0)) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--calibrate measures the module's own decisions: it needs --prune dcp, not " + policy);
        }
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
                ArrayNode layers = node.putArray("layer_pairs_kept");
                Arrays.stream(result.layerPairsKept()).forEach(layers::add);
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
            if (calibrated != null) {
                calibrate(model, stream, contextLength, err);
            }
        }
        return 0;
    }

    /** Measures the module's calibration on {@code stream} and writes the copy of its file that holds it. */
    private void calibrate(Model model, int[] stream, int contextLength, PrintWriter err) throws IOException {
        Path source = pruneOptions.adapter != null ? pruneOptions.adapter : modelFile.path(err);
        if (Files.exists(calibrated) && Files.isSameFile(source, calibrated)) {
            throw new UserInputException("--calibrate " + calibrated + " is the file being read; write to another file");
        }
        DcpCalibration calibration = DcpCalibration.measure(offset -> {
            PruningPolicy shifted = new PruningPolicy.Dcp(new DcpTarget.Offset(offset));
            try (Engine engine = modelOptions.engine(model, KvCacheConfig.defaults(), shifted, 1, err, contextLength)) {
                double kept = 1 - PerplexityEvaluator.measure(engine, null, stream, (windows, tokens, perplexity) -> { }).sparsity();
                err.printf(Locale.ROOT, "winnow: calibration: %s keeps %.4f of the pairs%n", shifted, kept);
                err.flush();
                return kept;
            }
        });
        try (GgufFile in = GgufFile.open(source)) {
            GgufWriter writer = new GgufWriter().putAll(in.metadata());
            calibration.metadata().forEach(writer::put);
            for (GgufTensorInfo tensor : in.tensors()) {
                writer.addTensor(tensor.name(), tensor.type(), tensor.shape(), in.tensorData(tensor));
            }
            writer.write(calibrated);
        }
        err.printf(Locale.ROOT, "winnow: wrote %s (%d offsets from %s to %s, keeping %.3f to %.3f of the pairs)%n", calibrated,
                calibration.offsets().length, calibration.offsets()[0], calibration.offsets()[calibration.offsets().length - 1],
                calibration.kept()[0], calibration.kept()[calibration.kept().length - 1]);
        err.flush();
    }
}
