package dev.winnow.tests.tokenizer;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import dev.winnow.engine.tokenizer.TokenDecoder;
import dev.winnow.engine.tokenizer.Tokenizer;
import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * llama.cpp's own tokenizer test vectors for the Llama 2 SentencePiece vocabulary, and the stories260K model's
 * vocabulary against llama2.c's reference run.
 */
class SpmVocabVectorsTest {
    private static final String SEPARATOR = "\n__ggml_vocab_test__\n";

    /**
     * Every case of {@code ggml-vocab-llama-spm.gguf.inp/.out}. llama.cpp's test-tokenizer-0 tokenizes them with
     * {@code common_tokenize(ctx, text, add_special = false, parse_special = false)}: no BOS, special-token texts
     * taken literally (no case contains one).
     */
    @Test
    void reproducesLlamaCppVectors() throws IOException {
        Tokenizer tokenizer = RealVocabularies.require(RealVocabularies.LLAMA_SPM);
        String inputs = Files.readString(SharedFiles.requireShared(RealVocabularies.LLAMA_SPM + ".inp"));
        List<String> outputs = Files.readAllLines(SharedFiles.requireShared(RealVocabularies.LLAMA_SPM + ".out"));
        String[] pieces = inputs.split(SEPARATOR, -1);
        List<String> cases = Arrays.asList(pieces).subList(0, pieces.length - 1); // text after the last separator
        assertEquals(46, cases.size(), "cases in the .inp file");
        assertEquals(cases.size(), outputs.size(), "lines in the .out file");
        assertAll(IntStream.range(0, cases.size()).mapToObj(i -> () -> {
            String label = "case " + i + " '" + cases.get(i).replace("\n", "\\n").replace("\t", "\\t") + "'";
            int[] expected = Arrays.stream(outputs.get(i).trim().split(" "))
                    .filter(id -> !id.isEmpty()).mapToInt(Integer::parseInt).toArray();
            int[] ids = tokenizer.encode(cases.get(i), false, false);
            assertArrayEquals(expected, ids, "ids of " + label);
            assertEquals(cases.get(i), tokenizer.decode(ids), "decoding " + label);
        }));
    }

    @Test
    void encodesTheStoriesPromptLikeLlama2c() {
        Tokenizer tokenizer = RealVocabularies.require(RealVocabularies.STORIES_260K);
        assertArrayEquals(new int[] {1, 403, 407, 261, 378}, tokenizer.encode("Once upon a time", true, false));
    }

    /**
     * llama2.c's printed text for the reference generations is the decoding of BOS, the prompt's tokens and the
     * generated ids (then a newline): token by token, as the stream arrives.
     */
    @TestFactory
    Stream<DynamicTest> decodesTheReferenceGenerations() {
        Tokenizer tokenizer = RealVocabularies.require(RealVocabularies.STORIES_260K);
        return Stream.of("once-upon-a-time", "tom-and-lily").map(name -> DynamicTest.dynamicTest(name, () -> {
            String prompt = Files.readString(SharedFiles.requireShared("models/reference/" + name + ".prompt"));
            int[] generated = Arrays.stream(Files.readString(
                            SharedFiles.requireShared("models/reference/" + name + ".ids")).trim().split("\\s+"))
                    .mapToInt(Integer::parseInt).toArray();
            String printed = Files.readString(SharedFiles.requireShared("models/reference/" + name + ".txt"),
                    StandardCharsets.UTF_8);
            int[] promptIds = tokenizer.encode(prompt, true, false);
            TokenDecoder decoder = tokenizer.decoder();
            StringBuilder streamed = new StringBuilder();
            IntStream.concat(Arrays.stream(promptIds), Arrays.stream(generated))
                    .forEach(id -> streamed.append(decoder.next(id)));
            streamed.append(decoder.flush());
            assertEquals(printed, streamed + "\n");
        }));
    }
}
