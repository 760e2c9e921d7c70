package dev.winnow.tests.gguf;

import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.EngineConfig;
import dev.winnow.engine.runtime.Sequence;
import dev.winnow.engine.runtime.SequenceOptions;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.model.ModelLoadException;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.tokenizer.Tokenizer;
import dev.winnow.engine.tokenizer.TokenizerException;
import dev.winnow.gguf.GgufFile;
import dev.winnow.gguf.GgufFormatException;
import dev.winnow.gguf.GgufTensorInfo;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import dev.winnow.tensors.VectorMath;
import dev.winnow.tensors.WorkerPool;

import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Opens possibly corrupt files on a separate thread with a time limit, and insists on one of two outcomes: the
 * file opens (and then everything it describes lies inside it), or {@link GgufFormatException}. Anything else (any
 * other exception, an {@link Error} such as {@link OutOfMemoryError}, a hang) fails the test.
 * <p>
 * {@link #loadAndStep} goes further, as {@code winnow generate} does: it loads the file as a model and, when that
 * succeeds, tokenizes a text and runs one forward step. A model may be refused ({@link GgufFormatException},
 * {@link ModelLoadException}, {@link TokenizerException}: the errors the command line reports as one line), but
 * a file that loads must then run (no accepted-then-crashed file).
 */
final class GuardedOpen {
    /** Far beyond any honest file's time even on a loaded 2-core machine: what runs longer is stuck. */
    private static final long LIMIT_SECONDS = 60;
    private static final WorkerPool SINGLE_THREAD = new WorkerPool(1);
    /** The thread of {@link #OPENER}, whose stack a hang reports. */
    private static volatile Thread opener;
    private static final ExecutorService OPENER = Executors.newSingleThreadExecutor(task -> {
        Thread thread = new Thread(task, "gguf-guarded-open");
        thread.setDaemon(true);
        opener = thread;
        return thread;
    });

    enum Outcome { OPENED, REFUSED }

    private GuardedOpen() {
    }

    /** Writes {@code bytes} to {@code file} and opens it. */
    static Outcome open(Path file, byte[] bytes) throws IOException {
        return guarded(file, bytes, () -> openAndInspect(file, bytes.length), "opening");
    }

    /** Writes {@code bytes} to {@code file}, loads it as a model and, when it loads, runs one step. */
    static Outcome loadAndStep(Path file, byte[] bytes) throws IOException {
        return guarded(file, bytes, () -> loadAndStep(file), "loading and running");
    }

    private static Outcome guarded(Path file, byte[] bytes, Callable<Outcome> probe, String doing) throws IOException {
        Files.write(file, bytes);
        Future<Outcome> result = OPENER.submit(probe);
        try {
            return result.get(LIMIT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new AssertionError(doing + " a " + bytes.length + "-byte file threw " + e.getCause()
                    + " instead of refusing it", e.getCause());
        } catch (TimeoutException e) {
            AssertionError hang = new AssertionError(doing + " a " + bytes.length + "-byte file took over "
                    + LIMIT_SECONDS + " s; the stack trace is where it was");
            hang.setStackTrace(opener.getStackTrace());
            result.cancel(true);
            throw hang;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    private static Outcome openAndInspect(Path file, long size) throws IOException {
        try (GgufFile gguf = GgufFile.open(file)) {
            inspect(gguf, size);
            return Outcome.OPENED;
        } catch (GgufFormatException refused) {
            assertTrue(refused.offset() >= 0 && refused.offset() <= size, refused.getMessage());
            assertTrue(refused.getMessage().startsWith(file.getFileName() + ": ")
                    && refused.getMessage().endsWith(" at byte " + refused.offset()), refused.getMessage());
            return Outcome.REFUSED;
        }
    }

    /** The context of the one step run on an opened file: whatever the file claims, the step needs one token. */
    private static final int STEP_CONTEXT = 16;

    private static Outcome loadAndStep(Path file) throws IOException {
        try (Model model = Model.load(file);
             Engine engine = new Engine(model, EngineConfig.single(1, Math.min(STEP_CONTEXT, model.config().contextLength()),
                     new PruningPolicy.None()))) {
            Tokenizer tokenizer = model.tokenizer();
            int[] prompt = tokenizer.encode("Once upon a time", model.vocabulary().addBos(), true);
            Sequence sequence = engine.newSequence(SequenceOptions.forced(null));
            float[] logits = sequence.prefill(prompt.length > 0 ? new int[] {prompt[0]} : new int[] {0});
            assertEquals(model.config().vocabularySize(), logits.length);
            tokenizer.decoder().next(VectorMath.argmax(logits, 0, logits.length));
            return Outcome.OPENED;
        } catch (GgufFormatException | ModelLoadException | TokenizerException refused) {
            assertTrue(refused.getMessage() != null && !refused.getMessage().isBlank(), refused.toString());
            return Outcome.REFUSED;
        }
    }

    /** Checks, independently of the reader, that an opened file only describes what lies inside it. */
    private static void inspect(GgufFile gguf, long size) {
        assertEquals(size, gguf.fileSize());
        assertEquals(1, Long.bitCount(gguf.alignment()));
        gguf.metadata().asMap().values().forEach(String::valueOf);
        List<GgufTensorInfo> byOffset = gguf.tensors().stream()
                .sorted(Comparator.comparingLong(GgufTensorInfo::offset)).toList();
        long previousEnd = 0;
        for (GgufTensorInfo info : byOffset) {
            assertEquals(0, info.offset() % gguf.alignment(), info.name());
            assertTrue(info.offset() >= previousEnd, info.name() + " overlaps the tensor before it");
            previousEnd = info.offset() + info.byteSize();
            assertTrue(gguf.dataOffset() + previousEnd <= size, info.name() + " ends outside the file");
            MemorySegment data = gguf.tensorData(info);
            assertEquals(info.byteSize(), data.byteSize());
            data.get(ValueLayout.JAVA_BYTE, 0);
            data.get(ValueLayout.JAVA_BYTE, data.byteSize() - 1);
        }
    }
}
