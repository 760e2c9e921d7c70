package dev.winnow.tests.gguf;

import dev.winnow.gguf.GgufFile;
import dev.winnow.gguf.GgufFormatException;
import dev.winnow.gguf.GgufTensorInfo;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
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
 */
final class GuardedOpen {
    private static final long LIMIT_SECONDS = 10;
    private static final ExecutorService OPENER = Executors.newSingleThreadExecutor(task -> {
        Thread thread = new Thread(task, "gguf-guarded-open");
        thread.setDaemon(true);
        return thread;
    });

    enum Outcome { OPENED, REFUSED }

    private GuardedOpen() {
    }

    /** Writes {@code bytes} to {@code file} and opens it. */
    static Outcome open(Path file, byte[] bytes) throws IOException {
        Files.write(file, bytes);
        Future<Outcome> result = OPENER.submit(() -> openAndInspect(file, bytes.length));
        try {
            return result.get(LIMIT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new AssertionError("opening a " + bytes.length + "-byte file threw " + e.getCause()
                    + " instead of GgufFormatException", e.getCause());
        } catch (TimeoutException e) {
            result.cancel(true);
            throw new AssertionError("opening a " + bytes.length + "-byte file took over " + LIMIT_SECONDS + " s");
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
