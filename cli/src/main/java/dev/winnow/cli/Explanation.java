package dev.winnow.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.winnow.engine.pruning.PruningTrace;
import dev.winnow.engine.tokenizer.TokenDecoder;
import dev.winnow.engine.tokenizer.Tokenizer;

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
 * @param policy   the pruning policy, as given on the command line
 * @param layers   transformer layers
 * @param tokens   every token of the sequence, prompt included
 */
record Explanation(String policy, int layers, List<Token> tokens) {

    /** One token: its id, its text, its position and, per layer, when it was dropped. */
    record Token(int position, int id, String text, List<LayerFate> layers) {
    }

    /**
     * @param droppedAt the step (query position) from which the layer no longer saw the token; null if still held
     * @param score     the policy's score for it, null if none
     */
    record LayerFate(Integer droppedAt, Float score) {
    }

    static Explanation of(PruningTrace trace, Tokenizer tokenizer, String policy) {
        TokenDecoder decoder = tokenizer.decoder();
        List<Token> tokens = new ArrayList<>(trace.length());
        for (int position = 0; position < trace.length(); position++) {
            int id = trace.tokenAt(position);
            List<LayerFate> fates = new ArrayList<>(trace.layers());
            for (int l = 0; l < trace.layers(); l++) {
                int step = trace.dropStep(l, position);
                float score = trace.score(l, position);
                fates.add(new LayerFate(step < 0 ? null : step, Float.isNaN(score) ? null : score));
            }
            tokens.add(new Token(position, id, decoder.next(id), fates));
        }
        return new Explanation(policy, trace.layers(), tokens);
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
        // Inside a <script> element, "</" must not appear: escape the slash of every "</".
        String data = JSON.writeValueAsString(this).replace("</", "<\\/");
        Files.writeString(file, template.replace("/*TRACE*/null", data), StandardCharsets.UTF_8);
    }
}
