package dev.winnow.tests.training;

import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.EngineConfig;
import dev.winnow.engine.training.ModelParameters;
import dev.winnow.engine.training.PerplexityEvaluator;
import dev.winnow.engine.training.TextCorpus;
import dev.winnow.engine.training.TrainingPass;
import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Two independent routes to the same number on the real stories260K model: the perplexity command's route
 * (the engine decoding token by token through the paged cache, keys and values stored as F16) and the trainer's
 * (one forward pass per window, a module that keeps everything, all in F32). They agree to 1e-3 relative.
 */
class PerplexityMatchesTrainerTest {

    @Test
    void theEngineAndTheTrainerMeasureTheSamePerplexity(@TempDir Path dir) throws IOException {
        Path file = SharedFiles.requireShared("models/stories260K.gguf");
        Path text = TrainingCliTest.heldOutText(dir, 1);
        int context = 64;
        try (Model model = Model.load(file);
             Engine measuring = new Engine(model, EngineConfig.single(1, context, new PruningPolicy.None()))) {
            int[] stream = TextCorpus.tokenize(text, model.tokenizer(), true);
            double engine = PerplexityEvaluator.measure(measuring, null, stream, (windows, tokens, perplexity) -> { }).perplexity();

            ModelParameters parameters = ModelParameters.fromModel(model, 4, 1);
            for (int l = 0; l < model.config().layers(); l++) {
                parameters.values()[parameters.layout().layer(l).bias()] = 1000;
            }
            TrainingPass pass = new TrainingPass(parameters.layout(), context);
            double loss = 0;
            int predicted = 0;
            for (int start = 0; stream.length - start >= 2; start += context) {
                int end = Math.min(stream.length, start + context);
                int[] inputs = Arrays.copyOfRange(stream, start, end - 1);
                int[] targets = Arrays.copyOfRange(stream, start + 1, end);
                loss += pass.forward(parameters.values(), inputs, targets, null, Double.POSITIVE_INFINITY).lossSum();
                predicted += inputs.length;
            }
            assertEquals(engine, Math.exp(loss / predicted), 1e-3 * engine);
        }
    }
}
