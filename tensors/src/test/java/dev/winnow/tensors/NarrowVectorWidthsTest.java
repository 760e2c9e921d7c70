package dev.winnow.tensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import net.jqwik.api.Example;

/**
 * The kernels are written once for any vector width; this machine's width is tested in-process, and
 * 128- and 256-bit vectors in child JVMs whose -XX:MaxVectorSize makes them the preferred width.
 */
class NarrowVectorWidthsTest {

    @Example
    void kernelsWorkWith128BitVectors() throws Exception {
        runChecksWithMaxVectorBytes(16);
    }

    @Example
    void kernelsWorkWith256BitVectors() throws Exception {
        runChecksWithMaxVectorBytes(32);
    }

    private static void runChecksWithMaxVectorBytes(int bytes) throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(List.of(java, "--add-modules", "jdk.incubator.vector", "-XX:MaxVectorSize=" + bytes,
                "-cp", System.getProperty("java.class.path"), NarrowVectorsCheck.class.getName()))
                .redirectErrorStream(true)
                .start();
        assertTrue(child.waitFor(120, TimeUnit.SECONDS), "the check did not finish in 2 minutes");
        String output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, child.exitValue(), () -> "check with " + bytes * 8 + "-bit vectors failed:\n" + output);
        // The child's width is the one asked for, unless this machine's own is narrower.
        int expectedLanes = Math.min(bytes / 4, Vectors.LANES);
        assertTrue(output.contains("lanes=" + expectedLanes), () -> "expected " + expectedLanes + " lanes:\n" + output);
        assertTrue(output.contains("ok"), output);
    }
}
