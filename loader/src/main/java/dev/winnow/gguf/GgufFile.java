package dev.winnow.gguf;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A GGUF file (version 2 or 3, little-endian), memory-mapped and checked: the metadata is read into the heap, the
 * tensor data stays in the mapping and is handed out as zero-copy slices.
 * <p>
 * Opening treats the file as hostile: every count, length, offset and shape is checked against the file's size
 * before it is used, so a malformed file gives a {@link GgufFormatException} saying what is wrong and where, never
 * an out-of-bounds read or an allocation the file's bytes do not back. (The metadata takes at most a few times its
 * size in the file on the heap.) The file must not be changed while it is open.
 * <p>
 * Thread-safe; the slices may be read from any thread until {@link #close()}.
 */
public final class GgufFile implements AutoCloseable {
    private final Path path;
    private final long fileSize;
    private final GgufReader.Header header;
    private final Map<String, GgufTensorInfo> tensorsByName;
    private final Arena arena;
    private final MemorySegment mapping;
    private final AtomicBoolean closed = new AtomicBoolean();

    private GgufFile(Path path, GgufReader.Header header, Arena arena, MemorySegment mapping) {
        this.path = path;
        this.fileSize = mapping.byteSize();
        this.header = header;
        this.arena = arena;
        this.mapping = mapping;
        Map<String, GgufTensorInfo> byName = new LinkedHashMap<>();
        for (GgufTensorInfo tensor : header.tensors()) {
            byName.put(tensor.name(), tensor);
        }
        this.tensorsByName = Map.copyOf(byName);
    }

    /**
     * Maps and checks the file.
     *
     * @throws GgufFormatException if the file is not a valid GGUF file
     * @throws IOException         if it cannot be read (missing, a directory, no permission, ...)
     */
    public static GgufFile open(Path path) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            Arena arena = Arena.ofShared();
            try {
                MemorySegment mapping = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
                return new GgufFile(path, GgufReader.read(path, mapping), arena, mapping);
            } catch (Throwable failure) {
                arena.close();
                throw failure;
            }
        }
    }

    public Path path() {
        return path;
    }

    /** The GGUF version, 2 or 3. */
    public int version() {
        return header.version();
    }

    public long fileSize() {
        return fileSize;
    }

    /** The alignment of tensor data: {@code general.alignment}, or 32 when the file does not set it. */
    public long alignment() {
        return header.alignment();
    }

    /** Where the data section starts: tensor offsets count from here. */
    public long dataOffset() {
        return header.dataOffset();
    }

    public GgufMetadata metadata() {
        return header.metadata();
    }

    /** All tensors, in file order. */
    public List<GgufTensorInfo> tensors() {
        return header.tensors();
    }

    public Optional<GgufTensorInfo> tensor(String name) {
        return Optional.ofNullable(tensorsByName.get(name));
    }

    /**
     * The tensor's bytes, a read-only slice of the mapping (no copy), valid until {@link #close()}.
     *
     * @throws IllegalArgumentException if the tensor is not one of this file's
     * @throws IllegalStateException    if the file is closed
     */
    public MemorySegment tensorData(GgufTensorInfo info) {
        if (!info.equals(tensorsByName.get(info.name()))) {
            throw new IllegalArgumentException("tensor " + info + " is not in " + path);
        }
        if (closed.get()) {
            throw new IllegalStateException(path + " is closed");
        }
        return mapping.asSlice(header.dataOffset() + info.offset(), info.byteSize());
    }

    /** Unmaps the file; the slices from {@link #tensorData} can no longer be read. Closing twice does nothing. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "GgufFile[%s, v%d, %d tensors, %d metadata entries]"
                .formatted(path, version(), tensors().size(), metadata().size());
    }
}
