package dev.winnow.tests;

import net.jqwik.api.lifecycle.LifecycleContext;
import net.jqwik.api.lifecycle.SkipExecutionHook;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Finds the shared test data ({@code shared/} beside the repository root: models, vocabularies, texts) and skips a
 * test, saying why, when it is not there. Tests never fail and never download for want of it.
 */
public final class SharedFiles {
    private SharedFiles() {
    }

    /**
     * The shared directory: the first {@code shared} folder holding {@code models/} found beside {@code user.dir}
     * or any of its ancestors (tests run in their module's directory, so this finds {@code ../shared} of the
     * repository root).
     */
    public static Optional<Path> sharedDir() {
        for (Path dir = Path.of(System.getProperty("user.dir")).toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path shared = dir.resolve("shared");
            if (Files.isDirectory(shared.resolve("models"))) {
                return Optional.of(shared);
            }
        }
        return Optional.empty();
    }

    /**
     * Where intact copies of llama.cpp's vocabulary files and their test vectors may be, besides the shared folder:
     * the environment variable {@value #VOCAB_DIR_VARIABLE} (.ci/run fills it from the llama.cpp sources that the
     * node-llama-cpp npm package ships, because the shared copies were damaged in transit).
     */
    public static final String VOCAB_DIR_VARIABLE = "WINNOW_VOCAB_DIR";

    /**
     * A file of the shared directory, if present. A {@code vocab/} file is taken from {@value #VOCAB_DIR_VARIABLE}
     * first when that folder has it.
     */
    public static Optional<Path> find(String relative) {
        String vocabDir = System.getenv(VOCAB_DIR_VARIABLE);
        if (vocabDir != null && relative.startsWith("vocab/")) {
            Path file = Path.of(vocabDir).resolve(relative.substring("vocab/".length()));
            if (Files.exists(file)) {
                return Optional.of(file);
            }
        }
        return sharedDir().map(dir -> dir.resolve(relative)).filter(Files::exists);
    }

    /**
     * A file of the shared directory (see {@link #find}); when it is missing, aborts the test (a skip, not a
     * failure) and prints the reason to stderr.
     */
    public static Path requireShared(String relative) {
        Optional<Path> file = find(relative);
        if (file.isEmpty()) {
            skip(sharedDir().isEmpty()
                    ? "no shared/models folder beside " + System.getProperty("user.dir") + " or its ancestors, so "
                            + relative + " is not available"
                    : relative + " does not exist in " + sharedDir().get());
        }
        return file.get();
    }

    /**
     * Whether a binary file looks like it went through a text conversion that replaced every byte sequence that is
     * not UTF-8 by U+FFFD: the whole file is valid UTF-8 and holds that replacement character. Binary numbers are
     * almost never valid UTF-8 throughout, so an intact binary file does not look like this.
     */
    public static boolean damagedByTextConversion(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        try {
            String text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
            return text.indexOf('\uFFFD') >= 0;
        } catch (CharacterCodingException notText) {
            return false;
        }
    }

    private static void skip(String reason) {
        System.err.println("skipped: " + reason);
        Assumptions.abort(reason);
    }

    /**
     * For jqwik properties, where an aborted try only discards that try: add with
     * {@code @AddLifecycleHook(SharedFiles.SkipWithoutShared.class)} to skip the property (saying why) when there
     * is no shared directory.
     */
    public static final class SkipWithoutShared implements SkipExecutionHook {
        @Override
        public SkipResult shouldBeSkipped(LifecycleContext context) {
            if (sharedDir().isPresent()) {
                return SkipResult.doNotSkip();
            }
            String reason = "no shared/models folder beside " + System.getProperty("user.dir") + " or its ancestors";
            System.err.println("skipped " + context.label() + ": " + reason);
            return SkipResult.skip(reason);
        }
    }
}
