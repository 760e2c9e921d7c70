package dev.winnow.tests.kv;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Prompt attention over a long cache allocates nothing, not even the vector boxes the JIT leaves where it does not
 * intrinsify a kernel's vector operations: checked in a JVM of its own ({@link PromptAttentionAllocationCheck}).
 */
class PromptAttentionAllocationTest {

    @Test
    void promptAttentionOfLongBlocksAllocatesNothing() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // bin/winnow's compiler flags: the kernels compiled after a twentieth of the usual calls
        Process child = new ProcessBuilder(List.of(java, "--add-modules", "jdk.incubator.vector", "-XX:+UseParallelGC",
                "-XX:CompileCommand=quiet", "-XX:CompileCommand=CompileThresholdScaling,dev.winnow.tensors.*::*,0.05",
                "-cp", System.getProperty("java.class.path"), PromptAttentionAllocationCheck.class.getName()))
                .redirectErrorStream(true)
                .start();
        String output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(child.waitFor(300, TimeUnit.SECONDS), "the check did not finish in 5 minutes");
        assertEquals(0, child.exitValue(), () -> "allocation check failed:\n" + output);
        assertTrue(output.contains("ok"), output);
    }
}
