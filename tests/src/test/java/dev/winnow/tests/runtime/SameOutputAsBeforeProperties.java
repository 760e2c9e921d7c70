package dev.winnow.tests.runtime;

import dev.winnow.tests.SharedFiles;
import dev.winnow.tests.cli.CliRunner;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.GenerationMode;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * {@code generate} through the shared runtime prints, for every pruning policy, greedy and seeded, exactly what
 * the engine printed before the runtime existed: the files beside this class were written by the jar of commit
 * fafa5b3 with the same command line ({@code generate -m stories260K.gguf -p PROMPT -n 100 --prune POLICY -t 2},
 * {@code --temperature 0} or {@code --temperature 0.8 --seed 7}; for dcp the module of
 * {@code dcp-init --rank 8 --std 0.1 --bias 1 --seed 3}). One file, Tom-and-Lily_dcp_seeded.txt, was written again
 * when attention began to sum the values of narrow heads lane by lane (a different order of the same additions):
 * its seeded sample parts from the old text in the last line.
 */
class SameOutputAsBeforeProperties {
    private static Path adapterDir;

    @BeforeContainer
    static void makeModule() throws IOException {
        Path base = SharedFiles.requireShared("models/stories260K.gguf");
        adapterDir = Files.createTempDirectory("same-output");
        CliRunner.Run init = CliRunner.run("dcp-init", "-m", base.toString(), "-o", adapterDir.resolve("module.gguf").toString(),
                "--rank", "8", "--std", "0.1", "--bias", "1", "--seed", "3");
        assertEquals(0, init.exitCode(), init.err());
    }

    @AfterContainer
    static void removeModule() throws IOException {
        if (adapterDir != null) {
            Files.deleteIfExists(adapterDir.resolve("module.gguf"));
            Files.deleteIfExists(adapterDir);
        }
    }

    @Provide
    Arbitrary<String> prompts() {
        return Arbitraries.of("Once upon a time", "Tom and Lily");
    }

    @Provide
    Arbitrary<String> policies() {
        return Arbitraries.of("none", "window:4:32", "h2o:16:16", "tova:40", "dcp");
    }

    @Property(generation = GenerationMode.EXHAUSTIVE)
    void generationPrintsWhatItPrintedBefore(@ForAll("prompts") String prompt, @ForAll("policies") String policy,
                                             @ForAll boolean seeded) throws IOException {
        Path base = SharedFiles.requireShared("models/stories260K.gguf");
        List<String> args = new ArrayList<>(List.of("generate", "-m", base.toString(), "-p", prompt, "-n", "100",
                "--prune", policy, "-t", "2"));
        args.addAll(seeded ? List.of("--temperature", "0.8", "--seed", "7") : List.of("--temperature", "0"));
        if (policy.equals("dcp")) {
            args.addAll(List.of("--prune-adapter", adapterDir.resolve("module.gguf").toString()));
        }
        CliRunner.Run run = CliRunner.run(args.toArray(String[]::new));
        assertEquals(0, run.exitCode(), run.err());
        String name = "%s_%s_%s.txt".formatted(prompt.replace(' ', '-'), policy.replace(':', '-'), seeded ? "seeded" : "greedy");
        try (InputStream before = SameOutputAsBeforeProperties.class.getResourceAsStream(name)) {
            assertNotNull(before, name);
            assertEquals(new String(before.readAllBytes(), StandardCharsets.UTF_8), run.out(), name);
        }
    }
}
