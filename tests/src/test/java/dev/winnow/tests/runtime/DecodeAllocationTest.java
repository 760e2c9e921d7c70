package dev.winnow.tests.runtime;

import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The decode loop through the engine allocates nothing per token beyond the forward pass but the token's text,
 * without pruning and with the window policy. Measured in a JVM of its own ({@link DecodeAllocationCheck}): in
 * this one, busy with every other test, when the compiler gets to the loop is anybody's guess.
 */
class DecodeAllocationTest {

    @Test
    void theRuntimeAllocatesNothingPerTokenButItsText() throws Exception {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(List.of(java, "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                DecodeAllocationCheck.class.getName(), model.toString()))
                .redirectErrorStream(true)
                .start();
        String output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(child.waitFor(180, TimeUnit.SECONDS), "the check did not finish in 3 minutes");
        assertEquals(0, child.exitValue(), () -> "allocation check failed:\n" + output);
        assertTrue(output.contains("ok"), output);
    }
}
