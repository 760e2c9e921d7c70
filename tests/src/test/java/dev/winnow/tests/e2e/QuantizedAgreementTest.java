package dev.winnow.tests.e2e;

import dev.winnow.tests.ForwardSequence;
import dev.winnow.engine.model.Model;
import dev.winnow.tensors.VectorMath;
import dev.winnow.tensors.WorkerPool;
import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Q8_0 and Q4_0 files of stories260K against the F32 reference: how many leading greedy tokens agree, and
 * how often, fed the reference text, the quantized model picks the reference's next token. The agreement
 * thresholds sit below what llama.cpp measures on the same files (Q8_0 98.5%, Q4_0 83%).
 */
class QuantizedAgreementTest {
    private static WorkerPool pool;

    @BeforeAll
    static void startPool() {
        pool = new WorkerPool(2);
    }

    @AfterAll
    static void stopPool() {
        pool.close();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"stories260K-q8_0.gguf, 0.95", "stories260K-q4_0.gguf, 0.70"})
    void quantizedModelTracksTheReference(String modelName, double minimumAgreement) throws IOException {
        Path reference = SharedFiles.requireShared("models/reference");
        Path modelPath = SharedFiles.requireShared("models/" + modelName);
        int[] prompt = {1, 403, 407, 261, 378};
        int[] expected = Arrays.stream(Files.readString(reference.resolve("once-upon-a-time.ids"), StandardCharsets.UTF_8)
                .trim().split("\\s+")).mapToInt(Integer::parseInt).toArray();

        try (Model model = Model.load(modelPath)) {
            int leading = leadingGreedyAgreement(model, prompt, expected);
            double forced = teacherForcedAgreement(model, prompt, expected);
            System.out.printf("%s: first %d of %d greedy tokens equal the F32 reference; teacher-forced top-1 agreement %.1f%%%n",
                    modelName, leading, expected.length, 100 * forced);
            assertTrue(forced >= minimumAgreement,
                    "%s agrees on %.1f%% of next tokens, expected at least %.0f%%".formatted(modelName, 100 * forced,
                            100 * minimumAgreement));
        }
    }

    private static int leadingGreedyAgreement(Model model, int[] prompt, int[] expected) {
        ForwardSequence session = ForwardSequence.dense(model, pool);
        float[] logits = session.ingest(prompt);
        for (int i = 0; i < expected.length; i++) {
            int token = VectorMath.argmax(logits, 0, logits.length);
            if (token != expected[i]) {
                return i;
            }
            logits = session.next(token);
        }
        return expected.length;
    }

    private static double teacherForcedAgreement(Model model, int[] prompt, int[] expected) {
        ForwardSequence session = ForwardSequence.dense(model, pool);
        float[] logits = session.ingest(prompt);
        int agree = 0;
        for (int i = 0; i < expected.length; i++) {
            if (VectorMath.argmax(logits, 0, logits.length) == expected[i]) {
                agree++;
            }
            logits = session.next(expected[i]);
        }
        return (double) agree / expected.length;
    }
}
