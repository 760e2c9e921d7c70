package dev.winnow.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.winnow.engine.pruning.PruningTrace;
import dev.winnow.engine.tokenizer.TokenDecoder;
import dev.winnow.engine.tokenizer.TokenType;
import dev.winnow.engine.tokenizer.Tokenizer;
import dev.winnow.engine.tokenizer.Vocabulary;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What pruning did to a generated sequence, in the form people read: a JSON trace and a self-contained HTML page
 * (no network) that shades each token by how many layers still hold it and draws, per layer, which token was
 * visible at which step.
 *
 * @param model         the model's file name
 * @param module        the pruning module's file name, or null when the policy uses none
 * @param policy        the pruning policy, as given on the command line
 * @param layers        transformer layers
 * @param promptTokens  how many of the tokens are the prompt's (the first ones)
 * @param layerSparsity per layer, the pruned (step, earlier token) pairs over all such pairs (docs/dcp.md)
 * @param tokens        every token of the sequence, prompt included
 */
record Explanation(String model, String module, String policy, int layers, int promptTokens, List<Double> layerSparsity,
                   List<Token> tokens) {

    /**
     * One token: its id, its text, its position and, per layer, when it was dropped.
     *
     * @param special a control or unknown token (such as {@code <s>}), whose text is its name: it decodes to nothing
     */
    record Token(int position, int id, String text, boolean special, List<LayerFate> layers) {
    }

    /**
     * @param droppedAt the step (query position) from which the layer no longer saw the token; null if still held
     * @param score     the policy's score for it, null if none
     */
    record LayerFate(Integer droppedAt, Float score) {
    }

    static Explanation of(PruningTrace trace, Tokenizer tokenizer, Vocabulary vocabulary, String model, String module,
                          String policy, int promptTokens) {
        TokenDecoder decoder = tokenizer.decoder();
        int length = trace.length();
        List<Token> tokens = new ArrayList<>(length);
        long[] prunedPairs = new long[trace.layers()];
        for (int position = 0; position < length; position++) {
            int id = trace.tokenAt(position);
            List<LayerFate> fates = new ArrayList<>(trace.layers());
            for (int l = 0; l < trace.layers(); l++) {
                int step = trace.dropStep(l, position);
                float score = trace.score(l, position);
                fates.add(new LayerFate(step < 0 ? null : step, Float.isNaN(score) ? null : score));
                if (step >= 0) {
                    prunedPairs[l] += Math.max(0, length - step); // the steps from its drop to the end miss it
                }
            }
            TokenType type = vocabulary.type(id);
            boolean special = type == TokenType.CONTROL || type == TokenType.UNKNOWN;
            String text = decoder.next(id);
            tokens.add(new Token(position, id, special ? tokenizer.piece(id) : text, special, fates));
        }
        double pairs = length * (length - 1.0) / 2;
        List<Double> sparsity = new ArrayList<>(trace.layers());
        for (long pruned : prunedPairs) {
            sparsity.add(pairs == 0 ? 0 : pruned / pairs);
        }
        return new Explanation(model, module, policy, trace.layers(), promptTokens, sparsity, tokens);
    }

    private static final ObjectMapper JSON = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);

    void writeJson(Path file) throws IOException {
        JSON.writer().with(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), this);
    }

    void writeHtml(Path file) throws IOException {
        String template;
        try (InputStream in = Explanation.class.getResourceAsStream("explain.html")) {
            if (in == null) {
                throw new IOException("the explain page template is missing from the jar");
            }
            template = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        // Inside a <script> element no "</script" or "<!--" may appear: every '<' of the data is written as an escape.
        String data = JSON.writeValueAsString(this).replace("<", "\\u003c");
        Files.writeString(file, template.replace("/*TRACE*/null", data), StandardCharsets.UTF_8);
    }
}
