package dev.winnow.tests.training;

import dev.winnow.engine.model.LlamaConfig;
import dev.winnow.engine.training.ParameterLayout;
import dev.winnow.engine.training.TrainingConfig;
import dev.winnow.engine.training.TrainingPass;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole training pass (embedding, blocks with the DCP mask, output, loss and sparsity term) against central
 * finite differences, for every parameter of tiny random models: one or two blocks, tied or separate output,
 * cross-entropy or KL divergence, the logistic (alpha = 1 + 1e-6) or the alpha = 1.5 sigmoid. The module's
 * scores stay well inside the alpha-sigmoid's smooth range (|s| < 2 at alpha 1.5). Step 1e-3, tolerance 3e-3
 * absolute plus 3% relative (float forward through several layers).
 */
class ModelGradientTest {

    @Property(tries = 16)
    void everyParameterGradientMatchesFiniteDifferences(@ForAll @IntRange(min = 1, max = 2) int layers,
                                                        @ForAll boolean tied, @ForAll boolean distill,
                                                        @ForAll boolean logistic, @ForAll long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        LlamaConfig config = TinyTraining.config(layers);
        ParameterLayout layout = new ParameterLayout(config, 4, tied);
        float[] w = TinyTraining.parameters(layout, random, 0.1, -0.5, 0.8);
        int rows = 2 + random.nextInt(6);
        int[] tokens = random.ints(rows, 0, config.vocabularySize()).toArray();
        int[] targets = random.ints(rows, 0, config.vocabularySize()).toArray();
        float[] teacher = distill ? TinyTraining.distributions(random, rows, config.vocabularySize()) : null;
        double alpha = logistic ? TrainingConfig.ALPHA_START : 1.5;
        float lossScale = 1f / rows;
        float keptScale = 0.4f;
        TrainingPass pass = new TrainingPass(layout, 8);
        pass.forward(w, tokens, targets, teacher, alpha);
        float[] grad = new float[w.length];
        pass.backward(w, grad, true, lossScale, keptScale);
        DoubleSupplier loss = () -> {
            TrainingPass.Result r = pass.forward(w, tokens, targets, teacher, alpha);
            return r.lossSum() * lossScale + keptScale * r.keptFraction();
        };
        FiniteDifferences.check("parameters", w, grad, loss, 1e-3, 3e-3, 3e-2);
        boolean moduleLearns = false;
        for (int i = layout.moduleStart(); i < w.length; i++) {
            moduleLearns |= grad[i] != 0;
        }
        assertTrue(moduleLearns, "the module's parameters get a gradient");
    }

    @Property(tries = 20)
    void moduleModeGivesTheSameModuleGradientAndLeavesTheBaseAlone(@ForAll @IntRange(min = 1, max = 2) int layers,
                                                                   @ForAll long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        LlamaConfig config = TinyTraining.config(layers);
        ParameterLayout layout = new ParameterLayout(config, 4, false);
        float[] w = TinyTraining.parameters(layout, random, 0.1, -0.5, 0.8);
        int rows = 2 + random.nextInt(6);
        int[] tokens = random.ints(rows, 0, config.vocabularySize()).toArray();
        int[] targets = random.ints(rows, 0, config.vocabularySize()).toArray();
        TrainingPass pass = new TrainingPass(layout, 8);
        float[] all = new float[w.length];
        pass.forward(w, tokens, targets, null, 2.0);
        pass.backward(w, all, true, 0.5f, 0.3f);
        float[] module = new float[w.length];
        pass.forward(w, tokens, targets, null, 2.0);
        pass.backward(w, module, false, 0.5f, 0.3f);
        int start = layout.moduleStart();
        assertArrayEquals(Arrays.copyOfRange(all, start, w.length), Arrays.copyOfRange(module, start, w.length));
        assertArrayEquals(new float[start], Arrays.copyOf(module, start), "the frozen base gets no gradient");
    }
}
