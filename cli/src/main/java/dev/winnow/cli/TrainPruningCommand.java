package dev.winnow.cli;

import dev.winnow.engine.model.Model;
import dev.winnow.engine.training.Checkpoint;
import dev.winnow.engine.training.ModelParameters;
import dev.winnow.engine.training.SelfDistillData;
import dev.winnow.engine.training.TextCorpus;
import dev.winnow.engine.training.TextData;
import dev.winnow.engine.training.Trainer;
import dev.winnow.engine.training.TrainingConfig;
import dev.winnow.engine.training.TrainingData;
import dev.winnow.gguf.GgufValue;
import dev.winnow.tensors.WorkerPool;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code winnow train-pruning}: DCP fine-tuning of a base model (dcp.md section 4), on a text file or on text
 * sampled from the model itself, writing a model (or, in module mode, an adapter) that {@code --prune dcp} uses.
 */
@Command(name = "train-pruning", mixinStandardHelpOptions = true,
        description = {"Teach a model to prune its context: DCP fine-tuning (dcp.md section 4) on a text file or on "
                + "the model's own samples. Progress, held-out evaluations and checkpoints are reported on stderr; "
                + "Ctrl-C writes a checkpoint that --resume continues from."})
final class TrainPruningCommand implements java.util.concurrent.Callable<Integer> {
    /** Exit code after Ctrl-C, as a shell reports a process ended by SIGINT. */
    static final int INTERRUPTED = 130;

    @Spec
    CommandSpec spec;

    @Mixin
    ModelFile modelFile;

    /** The base model's file, once {@link #modelFile} is resolved. */
    private Path model;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    static final class Source {
        @Option(names = "--data", paramLabel = "FILE", description = "Train on this UTF-8 text (documents separated by "
                + "lines holding only <|endoftext|>); its last --holdout part is held out for evaluation.")
        Path data;

        @Option(names = "--self-distill", paramLabel = "N", description = "Train on N sequences sampled from the base "
                + "model itself, matching its own next-token distributions (KL divergence).")
        Integer selfDistill;
    }

    @Option(names = "--distill", description = "With --data: train towards the base model's own next-token "
            + "distributions on the text (dense, KL divergence) instead of the text's next tokens, so the pruned model "
            + "keeps to the original rather than over-fitting the text.")
    boolean distill;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.gguf", description = "Where to write the trained model.")
    Path output;

    @Option(names = "--gamma", paramLabel = "G", description = "Pruning strength: weight of the kept fraction in the "
            + "loss (required unless --resume). Larger prunes more.")
    Double gamma;

    @Option(names = "--steps", paramLabel = "N", description = "Optimizer steps (required unless --resume).")
    Integer steps;

    @Option(names = "--seq-len", paramLabel = "T", description = "Tokens per training sequence (default: ${DEFAULT-VALUE}).")
    int seqLen = 256;

    @Option(names = "--batch", paramLabel = "B", description = "Sequences per step (default: ${DEFAULT-VALUE}).")
    int batch = 8;

    @Option(names = "--lr", paramLabel = "LR", description = "AdamW learning rate of the base model's weights (default: ${DEFAULT-VALUE}).")
    double learningRate = 5e-4;

    @Option(names = "--module-lr", paramLabel = "LR", description = "AdamW learning rate of the new pruning module (default: ${DEFAULT-VALUE}).")
    double moduleLearningRate = 3e-2;

    @Option(names = "--warmup", paramLabel = "N", description = "Steps of linear learning-rate warm-up (default: a tenth of --steps).")
    Integer warmup;

    @Option(names = "--lr-decay", paramLabel = "KIND", description = "After the warm-up: constant (the paper's recipe) "
            + "or cosine (down to a tenth at the last step, steadier for short runs) (default: ${DEFAULT-VALUE}).")
    String lrDecay = "cosine";

    @Option(names = "--mode", paramLabel = "MODE", description = "all: train every parameter (the paper's recipe); "
            + "module: only the pruning module, the base frozen (default: ${DEFAULT-VALUE}).")
    String mode = "all";

    @Option(names = "--rank", paramLabel = "R", description = "Interaction dimension of a new pruning module (default: ${DEFAULT-VALUE}).")
    int rank = 64;

    @Option(names = "--alpha-max", paramLabel = "A", description = "Where the cosine schedule of alpha ends (default: ${DEFAULT-VALUE}).")
    double alphaMax = 8;

    @Option(names = "--clip", paramLabel = "C", description = "Largest global gradient norm; 0 turns clipping off (default: ${DEFAULT-VALUE}).")
    double clip = 1;

    @Option(names = "--weight-decay", paramLabel = "W", description = "AdamW weight decay of the matrices (default: ${DEFAULT-VALUE}).")
    double weightDecay = 0;

    @Option(names = "--holdout", paramLabel = "F", description = "Fraction of --data held out for evaluation (default: ${DEFAULT-VALUE}).")
    double holdout = 0.1;

    @Option(names = "--eval-rows", paramLabel = "N", description = "Held-out sequences evaluated (default: ${DEFAULT-VALUE}).")
    int evalRows = 16;

    @Option(names = {"-t", "--threads"}, paramLabel = "N", description = "Worker threads (default: the number of cores, ${DEFAULT-VALUE}).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--eval-every", paramLabel = "K", description = "Evaluate on the held-out data every K steps; 0: only at the end (default: ${DEFAULT-VALUE}).")
    int evalEvery = 50;

    @Option(names = "--checkpoint-every", paramLabel = "K", description = "Write a checkpoint every K steps; 0: only on Ctrl-C (default: ${DEFAULT-VALUE}).")
    int checkpointEvery = 50;

    @Option(names = "--checkpoint", paramLabel = "FILE", description = "The checkpoint file (default: OUT.gguf.checkpoint).")
    Path checkpoint;

    @Option(names = "--log-every", paramLabel = "K", description = "In a log, a progress line every K steps; on a terminal one line is redrawn (default: ${DEFAULT-VALUE}).")
    int logEvery = 10;

    @Option(names = "--resume", paramLabel = "CHECKPOINT", description = "Continue the run saved in CHECKPOINT, exactly where it stopped.")
    Path resume;

    @Option(names = "--seed", paramLabel = "S", description = "Seeds the module's initialisation, the data windows and the sampling (default: ${DEFAULT-VALUE}).")
    long seed = 42;

    @Option(names = "--adapter-only", description = "With --mode module: write only the pruning module, an adapter for --prune-adapter.")
    boolean adapterOnly;

    private volatile boolean stopRequested;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        validate();
        Path checkpointPath = checkpoint != null ? checkpoint : output.resolveSibling(output.getFileName() + ".checkpoint");
        model = modelFile.path(err);
        try (Model base = LoadProgress.load(err, model, null); WorkerPool pool = new WorkerPool(threads)) {
            TrainingConfig config = resume != null ? resumedConfig() : newConfig(base);
            if (config.seqLen() > base.config().contextLength()) {
                throw new UserInputException("--seq-len %d is longer than the model's context (%d tokens)"
                        .formatted(config.seqLen(), base.config().contextLength()));
            }
            TrainingData data = userInput(() -> data(base, config, pool, err));
            err.println("winnow: data: " + data.description());
            Trainer trainer = userInput(() -> resume != null
                    ? Checkpoint.resume(resume, base.config(), base.llama().weights().tiedOutput(), data, pool)
                    : Trainer.start(config, ModelParameters.fromModel(base, config.rank(), config.seed()), data, pool));
            err.printf("winnow: training %s (%,d parameters, %s mode, r = %d), gamma %s, %d steps of %d x %d tokens, lr %s, %d threads%s%n",
                    model.getFileName(), trainer.parameters().layout().size(), config.mode(),
                    trainer.parameters().layout().rank(), config.gamma(), config.steps(), config.batch(), config.seqLen(),
                    config.learningRate() + "/" + config.moduleLearningRate(), threads, resume != null ? ", resumed at step " + trainer.completedSteps() : "");
            err.flush();
            return train(trainer, base, checkpointPath, pool, err);
        }
    }

    private int train(Trainer trainer, Model base, Path checkpointPath, WorkerPool pool, PrintWriter err) throws IOException {
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            stopRequested = true;
            try {
                stopped.await(2, TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "winnow-train-interrupt");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            long started = System.nanoTime();
            int firstStep = trainer.completedSteps();
            Progress progress = Progress.resume(err, "train-pruning", trainer.config().steps(), "steps", firstStep)
                    .loggingEvery(logEvery);
            while (!trainer.finished()) {
                Trainer.StepReport report = trainer.step();
                int done = report.step();
                progress.update(done, stepDetail(report, (System.nanoTime() - started) / 1e9 / (done - firstStep)));
                if (stopRequested) {
                    Checkpoint.save(trainer, model.getFileName().toString(), checkpointPath);
                    progress.note("winnow: interrupted after step %d; checkpoint written to %s (continue with --resume %s)"
                            .formatted(done, checkpointPath, checkpointPath));
                    return INTERRUPTED;
                }
                if (evalEvery > 0 && done % evalEvery == 0 && !trainer.finished()) {
                    progress.note(evaluation(trainer, done));
                }
                if (checkpointEvery > 0 && done % checkpointEvery == 0 && !trainer.finished()) {
                    Checkpoint.save(trainer, model.getFileName().toString(), checkpointPath);
                    progress.note("winnow: checkpoint written to " + checkpointPath);
                }
            }
            progress.finish(String.format(Locale.ROOT, "winnow: %,d steps in %s",
                    trainer.completedSteps() - firstStep, Progress.duration((System.nanoTime() - started) / 1e9)));
            err.println(evaluation(trainer, trainer.completedSteps()));
            writeOutput(trainer, base);
            err.printf("winnow: wrote %s%n", output);
            err.flush();
            return 0;
        } finally {
            stopped.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // The JVM is already stopping: the hook has run and is being waited for.
            }
        }
    }

    /** What a step did, after the count, rate and time left that the progress line shows. */
    private static String stepDetail(Trainer.StepReport r, double secondsPerStep) {
        return String.format(Locale.ROOT, "loss %.4f = lm %.4f + sparsity %.4f | kept %.3f | alpha %.3f | lr %.1e/%.1e "
                        + "| grad %.3f | %,.0f tok/s", r.loss(), r.lmLoss(), r.sparsityLoss(), r.keptFraction(), r.alpha(),
                r.learningRate(), r.moduleLearningRate(), r.gradientNorm(), r.tokens() / secondsPerStep);
    }

    private static String evaluation(Trainer trainer, int step) {
        boolean distill = trainer.data().distilled();
        Trainer.Evaluation hard = trainer.evaluate(Double.POSITIVE_INFINITY);
        Trainer.Evaluation soft = trainer.evaluate(trainer.config().alpha(Math.max(0, step - 1)));
        String measure = distill ? "kl %.4f".formatted(hard.lmLoss()) : "loss %.4f (perplexity %.3f)".formatted(hard.lmLoss(), Math.exp(hard.lmLoss()));
        return "eval after step %d (%,d held-out tokens): %s, kept %.3f with the hard decisions of inference | soft (alpha %.3f): %s %.4f, kept %.3f"
                .formatted(step, hard.tokens(), measure, hard.keptFraction(), soft.alpha(), distill ? "kl" : "loss",
                        soft.lmLoss(), soft.keptFraction());
    }

    private void writeOutput(Trainer trainer, Model base) throws IOException {
        Map<String, GgufValue> extra = Checkpoint.runMetadata(trainer.config(), model.getFileName().toString(),
                trainer.data().description());
        if (adapterOnly) {
            extra.put("general.name", GgufValue.ofString("DCP pruning module for " + model.getFileName()));
            trainer.parameters().writeAdapter(output, extra);
        } else {
            trainer.parameters().writeModel(output, base.file().metadata(), extra);
        }
    }

    private void validate() {
        ThreadCount.check(spec, threads);
        if (evalEvery < 0 || checkpointEvery < 0 || logEvery < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--eval-every and --checkpoint-every must be >= 0 and --log-every >= 1");
        }
        if (evalRows < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--eval-rows must be at least 1, got " + evalRows);
        }
        if (distill && source.data == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--distill needs --data (--self-distill is distilled already)");
        }
        if (source.selfDistill != null && source.selfDistill < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--self-distill needs at least 1 sequence, got " + source.selfDistill);
        }
        if (resume == null && (gamma == null || steps == null)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--gamma and --steps are required (unless --resume continues a run)");
        }
    }

    private TrainingConfig newConfig(Model base) throws IOException {
        TrainingConfig.Mode trainingMode = userInput(() -> TrainingConfig.Mode.parse(mode));
        TrainingConfig.Decay decay = userInput(() -> TrainingConfig.Decay.parse(lrDecay));
        if (adapterOnly && trainingMode != TrainingConfig.Mode.MODULE) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--adapter-only needs --mode module: in mode all the base model changes too");
        }
        int effectiveRank = base.pruningModule().map(m -> m.interactionDim()).orElse(rank);
        int warmupSteps = warmup != null ? warmup : steps / 10;
        return userInput(() -> new TrainingConfig(gamma, steps, seqLen, batch, learningRate, moduleLearningRate, warmupSteps, decay, trainingMode,
                effectiveRank, alphaMax, clip, weightDecay, seed));
    }

    /** The checkpoint's configuration; options given on this command line must agree with it. */
    private TrainingConfig resumedConfig() throws IOException {
        TrainingConfig saved = userInput(() -> Checkpoint.config(resume));
        List<String> differences = new ArrayList<>();
        compare(differences, "--gamma", gamma, saved.gamma());
        compare(differences, "--steps", steps, saved.steps());
        compare(differences, "--seq-len", seqLen, saved.seqLen());
        compare(differences, "--batch", batch, saved.batch());
        compare(differences, "--lr", learningRate, saved.learningRate());
        compare(differences, "--module-lr", moduleLearningRate, saved.moduleLearningRate());
        compare(differences, "--warmup", warmup, saved.warmupSteps());
        compare(differences, "--lr-decay", lrDecay, saved.decay().toString());
        compare(differences, "--mode", mode, saved.mode().toString());
        compare(differences, "--alpha-max", alphaMax, saved.alphaMax());
        compare(differences, "--clip", clip, saved.clip());
        compare(differences, "--weight-decay", weightDecay, saved.weightDecay());
        compare(differences, "--seed", seed, saved.seed());
        if (!differences.isEmpty()) {
            throw new UserInputException("--resume continues the run as it was started, but " + String.join(", ", differences));
        }
        if (adapterOnly && saved.mode() != TrainingConfig.Mode.MODULE) {
            throw new UserInputException("--adapter-only needs a run in module mode; this checkpoint's is " + saved.mode());
        }
        return saved;
    }

    private void compare(List<String> differences, String option, Object given, Object saved) {
        if (given != null && spec.commandLine().getParseResult().hasMatchedOption(option) && !Objects.equals(given, saved)) {
            differences.add("%s is %s here and %s in the checkpoint".formatted(option, given, saved));
        }
    }

    private TrainingData data(Model base, TrainingConfig config, WorkerPool pool, PrintWriter err) throws IOException {
        if (source.data != null) {
            int[] stream = TextCorpus.tokenize(source.data, base.tokenizer(), base.vocabulary().addBos() && base.tokenizer().bos() >= 0);
            TextData text = new TextData(stream, config.seqLen(), holdout, evalRows, source.data.getFileName().toString());
            if (!distill) {
                return text;
            }
            int windows = text.distillationWindows();
            err.printf("winnow: computing %s's next-token distributions on %,d windows of %,d tokens%n",
                    model.getFileName(), windows, config.seqLen());
            Progress progress = Progress.start(err, "distributions", windows, "windows");
            TextData distilled = TextData.distilled(text, base, pool, done -> {
                synchronized (progress) { // told from the pool's threads
                    progress.update(done, "");
                }
            });
            progress.finish("winnow: distributions of %,d windows ready".formatted(windows));
            return distilled;
        }
        int count = source.selfDistill;
        int heldOut = Math.max(1, Math.min(evalRows, count / 8));
        err.printf("winnow: sampling %,d + %,d sequences of %,d tokens from %s for self-distillation%n", count, heldOut,
                config.seqLen(), model.getFileName());
        Progress progress = Progress.start(err, "self-distillation", count + heldOut, "sequences");
        SelfDistillData sampled = SelfDistillData.sample(base, count, heldOut, config.seqLen(), config.seed(), threads,
                done -> progress.update(done, ""));
        progress.finish("winnow: %,d sequences sampled".formatted(count + heldOut));
        return sampled;
    }

    @FunctionalInterface
    private interface Action<T> {
        T run() throws IOException;
    }

    /** Runs an action whose IllegalArgumentException is a problem with the user's input, and reports it as one. */
    private static <T> T userInput(Action<T> action) throws IOException {
        try {
            return action.run();
        } catch (IllegalArgumentException e) {
            throw new UserInputException(e.getMessage());
        }
    }
}
