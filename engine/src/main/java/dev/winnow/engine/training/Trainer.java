package dev.winnow.engine.training;

import dev.winnow.tensors.WorkerPool;

import java.util.Arrays;

/**
 * The training loop of DCP fine-tuning (dcp.md section 4): each step runs the batch rows in parallel (one
 * {@link TrainingPass} per worker thread, one gradient array per row), adds the rows' gradients in row order,
 * clips the global norm, and takes an AdamW step on the trained range, with the learning rate and alpha of the
 * schedules. Rows, their data and the order of every sum are fixed by the seed and the step, so a run gives the
 * same parameters for any number of threads, and a resumed run the same as an uninterrupted one.
 *
 * <p>The loss is LM + gamma * K, LM the mean language-model loss per position (cross-entropy, or KL divergence
 * to the teacher) and K the soft kept fraction: the mean over layers and rows of sum_{k<j} I[j, k] / (n(n-1)/2).
 * K is the training-time counterpart of 1 - sparsity as the engine reports it (dcp.md section 6). It weighs each
 * pair 2/(n(n-1)), twice the paper's 1/(n(n-1)), so gamma here is half the paper's gamma for the same pressure.
 */
public final class Trainer {
    /** What one step did. */
    public record StepReport(int step, double loss, double lmLoss, double sparsityLoss, double keptFraction,
                             double alpha, double learningRate, double moduleLearningRate, double gradientNorm,
                             int tokens) {
    }

    /** A measurement on the held-out rows. */
    public record Evaluation(double lmLoss, double keptFraction, double alpha, int tokens) {
    }

    private final TrainingConfig config;
    private final ModelParameters parameters;
    private final TrainingData data;
    private final WorkerPool pool;
    private final TrainingPass[] passes;
    private final float[][] rowGradients;
    private final float[] gradient;
    private final boolean[] decays;
    /** AdamW over the base parameters [0, moduleStart), in mode all; else null. */
    private final AdamW baseOptimizer;
    /** AdamW over the module's parameters [moduleStart, size). */
    private final AdamW moduleOptimizer;
    private final int trainedStart;
    private final double[] rowLoss;
    private final double[] rowKept;
    private int step;

    /** A run from step {@code step} with the given optimizer states (base: null in module mode). */
    Trainer(TrainingConfig config, ModelParameters parameters, TrainingData data, WorkerPool pool, AdamW baseOptimizer,
            AdamW moduleOptimizer, int step) {
        if (data.sequenceLength() != config.seqLen()) {
            throw new IllegalArgumentException("the data has sequences of %d tokens, the run %d".formatted(data.sequenceLength(), config.seqLen()));
        }
        this.config = config;
        this.parameters = parameters;
        this.data = data;
        this.pool = pool;
        ParameterLayout layout = parameters.layout();
        this.trainedStart = config.mode() == TrainingConfig.Mode.ALL ? 0 : layout.moduleStart();
        int trained = layout.size() - trainedStart;
        boolean all = config.mode() == TrainingConfig.Mode.ALL;
        if ((baseOptimizer == null) == all || baseOptimizer != null && baseOptimizer.size() != layout.moduleStart()
                || moduleOptimizer.size() != layout.size() - layout.moduleStart()) {
            throw new IllegalArgumentException("optimizer state does not match the %s-mode run of %d parameters"
                    .formatted(config.mode(), trained));
        }
        this.baseOptimizer = baseOptimizer;
        this.moduleOptimizer = moduleOptimizer;
        this.step = step;
        this.passes = new TrainingPass[pool.threads()];
        for (int i = 0; i < passes.length; i++) {
            passes[i] = new TrainingPass(layout, config.seqLen());
        }
        this.rowGradients = new float[config.batch()][layout.size()];
        this.gradient = new float[trained];
        this.decays = new boolean[trained];
        for (ParameterLayout.Tensor t : layout.tensors()) {
            if (t.rows() > 1 && t.offset() >= trainedStart) {
                Arrays.fill(decays, t.offset() - trainedStart, t.offset() - trainedStart + t.size(), true);
            }
        }
        this.rowLoss = new double[Math.max(config.batch(), data.heldOutRows())];
        this.rowKept = new double[rowLoss.length];
    }

    /** A new run. */
    public static Trainer start(TrainingConfig config, ModelParameters parameters, TrainingData data, WorkerPool pool) {
        ParameterLayout layout = parameters.layout();
        AdamW base = config.mode() == TrainingConfig.Mode.ALL ? new AdamW(layout.moduleStart()) : null;
        return new Trainer(config, parameters, data, pool, base, new AdamW(layout.size() - layout.moduleStart()), 0);
    }

    public TrainingConfig config() {
        return config;
    }

    public ModelParameters parameters() {
        return parameters;
    }

    public TrainingData data() {
        return data;
    }

    /** The optimizer of the base parameters, or null in module mode. */
    AdamW baseOptimizer() {
        return baseOptimizer;
    }

    AdamW moduleOptimizer() {
        return moduleOptimizer;
    }

    /** Steps completed. */
    public int completedSteps() {
        return step;
    }

    public boolean finished() {
        return step >= config.steps();
    }

    /** One optimizer step. */
    public StepReport step() {
        if (finished()) {
            throw new IllegalStateException("the run is over: %d of %d steps done".formatted(step, config.steps()));
        }
        int batch = config.batch();
        int seqLen = config.seqLen();
        double alpha = config.alpha(step);
        float lossScale = (float) (1.0 / ((double) batch * seqLen));
        float keptScale = (float) (config.gamma() / batch);
        boolean trainBase = config.mode() == TrainingConfig.Mode.ALL;
        float[] w = parameters.values();
        int threads = passes.length;
        int current = step;
        pool.parallelFor(threads, (first, last) -> {
            for (int thread = first; thread < last; thread++) {
                for (int b = thread; b < batch; b += threads) {
                    TrainingData.Row row = data.trainingRow(config.seed(), current, b);
                    float[] g = rowGradients[b];
                    Arrays.fill(g, trainedStart, g.length, 0);
                    TrainingPass.Result result = passes[thread].forward(w, row.inputs(), row.targets(), row.teacher(), alpha);
                    passes[thread].backward(w, g, trainBase, lossScale, keptScale);
                    rowLoss[b] = result.lossSum();
                    rowKept[b] = result.keptFraction();
                }
            }
        });
        pool.parallelFor(gradient.length, (start, end) -> {
            for (int i = start; i < end; i++) {
                float sum = 0;
                for (int b = 0; b < batch; b++) {
                    sum += rowGradients[b][trainedStart + i];
                }
                gradient[i] = sum;
            }
        });
        double squares = 0;
        for (float g : gradient) {
            squares += (double) g * g;
        }
        double norm = Math.sqrt(squares);
        if (config.clip() > 0 && norm > config.clip()) {
            float scale = (float) (config.clip() / norm);
            for (int i = 0; i < gradient.length; i++) {
                gradient[i] *= scale;
            }
        }
        double warmup = config.learningRateFactor(step);
        int moduleStart = parameters.layout().moduleStart();
        if (baseOptimizer != null) {
            baseOptimizer.update(w, 0, gradient, 0, (float) (warmup * config.learningRate()),
                    (float) config.weightDecay(), decays, pool);
        }
        moduleOptimizer.update(w, moduleStart, gradient, moduleStart - trainedStart,
                (float) (warmup * config.moduleLearningRate()), (float) config.weightDecay(), decays, pool);
        double lm = 0;
        double kept = 0;
        for (int b = 0; b < batch; b++) {
            lm += rowLoss[b];
            kept += rowKept[b];
        }
        lm /= (double) batch * seqLen;
        kept /= batch;
        step++;
        return new StepReport(step, lm + config.gamma() * kept, lm, config.gamma() * kept, kept, alpha,
                warmup * config.learningRate(), warmup * config.moduleLearningRate(), norm, batch * seqLen);
    }

    /**
     * The mean language-model loss and the kept fraction on the held-out rows, with the keep factors of
     * {@code alpha} ({@code +infinity}: the hard decisions of inference).
     */
    public Evaluation evaluate(double alpha) {
        int rows = data.heldOutRows();
        int threads = passes.length;
        float[] w = parameters.values();
        pool.parallelFor(threads, (first, last) -> {
            for (int thread = first; thread < last; thread++) {
                for (int i = thread; i < rows; i += threads) {
                    TrainingData.Row row = data.heldOutRow(i);
                    TrainingPass.Result result = passes[thread].forward(w, row.inputs(), row.targets(), row.teacher(), alpha);
                    rowLoss[i] = result.lossSum();
                    rowKept[i] = result.keptFraction();
                }
            }
        });
        double lm = 0;
        double kept = 0;
        for (int i = 0; i < rows; i++) {
            lm += rowLoss[i];
            kept += rowKept[i];
        }
        return new Evaluation(lm / ((double) rows * config.seqLen()), kept / rows, alpha, rows * config.seqLen());
    }
}
