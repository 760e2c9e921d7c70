package dev.winnow.engine.training;

import java.util.Locale;

/**
 * Everything that decides what a training run computes (and so must be the same when a run is resumed).
 *
 * @param gamma        weight of the sparsity term (the soft kept fraction of (query, earlier token) pairs)
 * @param steps        optimizer steps of the run
 * @param seqLen       tokens per training sequence
 * @param batch        sequences per step
 * @param learningRate AdamW learning rate of the base model's parameters after the warm-up
 * @param moduleLearningRate AdamW learning rate of the pruning module after the warm-up: the module starts
 *                     from random values while the base is already trained, so it may move faster
 * @param warmupSteps  steps of linear learning-rate warm-up
 * @param decay        what the learning rate does after the warm-up
 * @param mode         which parameters are trained
 * @param rank         interaction dimension r of a new pruning module
 * @param alphaMax     where the cosine schedule of alpha ends
 * @param clip         the largest global gradient norm; larger gradients are scaled down to it (0: no clipping)
 * @param weightDecay  AdamW's decoupled weight decay, applied to matrices only
 * @param seed         seeds the module's initialisation, the data windows and self-distillation sampling
 */
public record TrainingConfig(double gamma, int steps, int seqLen, int batch, double learningRate,
                             double moduleLearningRate, int warmupSteps, Decay decay,
                             Mode mode, int rank, double alphaMax, double clip, double weightDecay, long seed) {

    /** alpha at step 0: exactly 1 is numerically unstable (dcp.md section 3). */
    public static final double ALPHA_START = 1 + 1e-6;

    /** The learning rate after the warm-up. */
    public enum Decay {
        /** Constant, as in the paper's recipe (25k steps). */
        CONSTANT,
        /** A cosine from the full rate down to a tenth at the last step: steadier ends for short runs. */
        COSINE;

        public static Decay parse(String text) {
            return switch (text.toLowerCase(Locale.ROOT)) {
                case "constant" -> CONSTANT;
                case "cosine" -> COSINE;
                default -> throw new IllegalArgumentException("--lr-decay must be constant or cosine, got '%s'".formatted(text));
            };
        }

        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Which parameters a run trains. */
    public enum Mode {
        /** Every parameter of the model and the module (the paper's recipe). */
        ALL,
        /** Only W_qi, W_ki and beta; the base model stays frozen. */
        MODULE;

        public static Mode parse(String text) {
            return switch (text.toLowerCase(Locale.ROOT)) {
                case "all" -> ALL;
                case "module" -> MODULE;
                default -> throw new IllegalArgumentException("--mode must be all or module, got '%s'".formatted(text));
            };
        }

        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public TrainingConfig {
        require(Double.isFinite(gamma) && gamma >= 0, "--gamma must be a finite number >= 0, got " + gamma);
        require(steps >= 1, "--steps must be at least 1, got " + steps);
        require(seqLen >= 2, "--seq-len must be at least 2, got " + seqLen);
        require(batch >= 1, "--batch must be at least 1, got " + batch);
        require(learningRate > 0 && Double.isFinite(learningRate), "--lr must be a positive number, got " + learningRate);
        require(moduleLearningRate > 0 && Double.isFinite(moduleLearningRate),
                "--module-lr must be a positive number, got " + moduleLearningRate);
        require(warmupSteps >= 0, "--warmup must be >= 0, got " + warmupSteps);
        require(mode != null && decay != null, "a training mode and a learning-rate decay are required");
        require(rank >= 1 && rank <= 4096, "--rank must be 1 to 4096, got " + rank);
        require(alphaMax >= 1 && Double.isFinite(alphaMax), "--alpha-max must be a finite number >= 1, got " + alphaMax);
        require(clip >= 0 && Double.isFinite(clip), "--clip must be a finite number >= 0, got " + clip);
        require(weightDecay >= 0 && Double.isFinite(weightDecay), "--weight-decay must be >= 0, got " + weightDecay);
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new IllegalArgumentException(message);
        }
    }

    /**
     * alpha of the step with index {@code step} (0-based): the cosine from 1 to alphaMax over the run,
     * alpha = alphaMax + (1 - alphaMax)(1 + cos(pi t / T)) / 2 with T = steps - 1 (the last step trains at
     * alphaMax), then constant; never below {@link #ALPHA_START}.
     */
    public double alpha(int step) {
        double progress = steps <= 1 ? 1 : Math.min(1, (double) step / (steps - 1));
        double alpha = alphaMax + 0.5 * (1 - alphaMax) * (1 + Math.cos(Math.PI * progress));
        return Math.max(alpha, ALPHA_START);
    }

    /**
     * The factor of both learning rates at step {@code step} (0-based): a linear warm-up over warmupSteps, then
     * 1 ({@link Decay#CONSTANT}) or a cosine from 1 after the warm-up to 0.1 at the last step ({@link Decay#COSINE}).
     */
    public double learningRateFactor(int step) {
        if (step + 1 < warmupSteps) {
            return (step + 1.0) / warmupSteps;
        }
        if (decay == Decay.CONSTANT) {
            return 1;
        }
        int start = Math.max(0, warmupSteps - 1);
        double progress = steps - 1 <= start ? 0 : Math.min(1, (double) (step - start) / (steps - 1 - start));
        return 0.1 + 0.45 * (1 + Math.cos(Math.PI * progress));
    }
}
