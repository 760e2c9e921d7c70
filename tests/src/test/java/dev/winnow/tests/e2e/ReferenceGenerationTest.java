package dev.winnow.tests.e2e;

import dev.winnow.tests.SharedFiles;
import dev.winnow.tests.cli.CliRunner;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Greedy generation on the real stories260K model reproduces llama2.c's reference output token for token, for
 * every reference case and every float file.
 */
class ReferenceGenerationTest {

    static Stream<Arguments> cases() {
        Stream.Builder<Arguments> all = Stream.builder();
        for (String model : new String[] {"stories260K.gguf", "stories260K-f32.gguf", "stories260K-f16.gguf"}) {
            for (String name : new String[] {"once-upon-a-time", "tom-and-lily"}) {
                all.add(Arguments.of(model, name));
            }
        }
        return all.build();
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("cases")
    void greedyOutputMatchesReference(String modelName, String caseName) throws IOException {
        Path model = SharedFiles.requireShared("models/" + modelName);
        Path reference = SharedFiles.requireShared("models/reference");
        String prompt = Files.readString(reference.resolve(caseName + ".prompt"), StandardCharsets.UTF_8);
        String expected = Files.readString(reference.resolve(caseName + ".txt"), StandardCharsets.UTF_8);
        int tokens = Files.readString(reference.resolve(caseName + ".ids")).trim().split("\\s+").length;

        CliRunner.Run run = CliRunner.run("generate", "-m", model.toString(), "-p", prompt,
                "-n", Integer.toString(tokens), "--temperature", "0", "--threads", "2");

        assertEquals(0, run.exitCode(), run.err());
        assertEquals(expected, run.out());
    }
}
