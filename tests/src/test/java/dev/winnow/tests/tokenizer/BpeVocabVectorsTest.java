package dev.winnow.tests.tokenizer;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import dev.winnow.engine.tokenizer.Tokenizer;
import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * llama.cpp's tokenizer test vectors for byte-level BPE vocabularies: every case of {@code NAME.gguf.inp/.out}
 * encodes to exactly the listed ids (no BOS, special-token texts taken literally, as llama.cpp's
 * test-tokenizer-0 runs them), and the ids decode to the input again. The shared folder has the GPT-2
 * vocabulary; the other vocabularies llama.cpp ships vectors for run too when they are put there.
 */
class BpeVocabVectorsTest {
    private static final String SEPARATOR = "\n__ggml_vocab_test__\n";
    /** Byte-level BPE vocabularies with llama.cpp test vectors, one per pre-tokenizer family. */
    private static final List<String> VOCABULARIES = List.of("gpt-2", "llama-bpe", "qwen2", "deepseek-llm",
            "deepseek-coder", "falcon", "starcoder", "mpt", "refact", "command-r");

    @TestFactory
    Stream<DynamicTest> reproducesLlamaCppVectors() {
        return VOCABULARIES.stream().map(name -> DynamicTest.dynamicTest(name, () -> {
            String relative = "vocab/ggml-vocab-" + name + ".gguf";
            if (!relative.equals(RealVocabularies.GPT2)) {
                if (SharedFiles.find(relative).isEmpty()) {
                    String reason = relative + " is not in the shared folder";
                    System.err.println("skipped: " + reason);
                    Assumptions.abort(reason);
                }
            }
            Tokenizer tokenizer = RealVocabularies.require(relative);
            String inputs = Files.readString(SharedFiles.requireShared(relative + ".inp"));
            List<String> outputs = Files.readAllLines(SharedFiles.requireShared(relative + ".out"));
            String[] pieces = inputs.split(SEPARATOR, -1);
            List<String> cases = Arrays.asList(pieces).subList(0, pieces.length - 1); // text after the last separator
            assertEquals(cases.size(), outputs.size(), "lines in the .out file");
            assertAll(IntStream.range(0, cases.size()).mapToObj(i -> () -> {
                String label = name + " case " + i + " '" + cases.get(i).replace("\n", "\\n").replace("\t", "\\t") + "'";
                int[] expected = Arrays.stream(outputs.get(i).trim().split(" "))
                        .filter(id -> !id.isEmpty()).mapToInt(Integer::parseInt).toArray();
                int[] ids = tokenizer.encode(cases.get(i), false, false);
                assertArrayEquals(expected, ids, "ids of " + label);
                assertEquals(cases.get(i), tokenizer.decode(ids), "decoding " + label);
            }));
            System.err.println(name + ": " + cases.size() + " cases reproduced");
        }));
    }
}
