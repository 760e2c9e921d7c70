package dev.winnow.gguf;

import dev.winnow.tensors.GgmlType;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetEncoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Objects;
import java.util.SequencedMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Builds a GGUF version 3 file: metadata entries (kept in the order first put) and tensors (in the order added),
 * then {@link #write(Path)}. Tensor data is aligned to {@link #alignment()}; {@code general.alignment} is written
 * when the alignment is not the default 32 (or when the metadata already holds the key).
 * <p>
 * Copying another file's metadata is {@link #putAll(GgufMetadata)} (or {@link #put} for each entry of
 * {@link GgufMetadata#asMap()}). Not thread-safe.
 */
public final class GgufWriter {
    /** Fills a tensor's bytes at write time, straight into the output file's mapping. */
    @FunctionalInterface
    public interface TensorData {
        /**
         * Writes the tensor's bytes.
         *
         * @param destination exactly the tensor's byte size; it reads as zeros until written
         */
        void fill(MemorySegment destination) throws IOException;
    }

    private record Tensor(GgufTensorInfo info, TensorData data) {
    }

    private final SequencedMap<String, GgufValue> metadata = new LinkedHashMap<>();
    private final SequencedMap<String, Tensor> tensors = new LinkedHashMap<>();

    /**
     * Sets a metadata entry; a key already present keeps its place and takes the new value.
     *
     * @throws IllegalArgumentException for a {@code general.alignment} that is not a UINT32 power of two
     */
    public GgufWriter put(String key, GgufValue value) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value");
        if (key.equals(GgufMetadata.ALIGNMENT_KEY)) {
            String problem = GgufMetadata.alignmentProblem(value);
            if (problem != null) {
                throw new IllegalArgumentException(problem);
            }
        }
        metadata.put(key, value);
        return this;
    }

    /** {@link #put} for every entry, in order. */
    public GgufWriter putAll(GgufMetadata entries) {
        entries.asMap().forEach(this::put);
        return this;
    }

    public GgufWriter putString(String key, String value) {
        return put(key, GgufValue.ofString(value));
    }

    public GgufWriter putUInt32(String key, int bits) {
        return put(key, GgufValue.ofUInt32(bits));
    }

    public GgufWriter putInt32(String key, int value) {
        return put(key, GgufValue.ofInt32(value));
    }

    public GgufWriter putUInt64(String key, long bits) {
        return put(key, GgufValue.ofUInt64(bits));
    }

    public GgufWriter putInt64(String key, long value) {
        return put(key, GgufValue.ofInt64(value));
    }

    public GgufWriter putFloat32(String key, float value) {
        return put(key, GgufValue.ofFloat32(value));
    }

    public GgufWriter putFloat64(String key, double value) {
        return put(key, GgufValue.ofFloat64(value));
    }

    public GgufWriter putBool(String key, boolean value) {
        return put(key, GgufValue.ofBool(value));
    }

    public GgufWriter putArray(String key, GgufArray value) {
        return put(key, GgufValue.ofArray(value));
    }

    /** Removes a metadata entry, if present. */
    public GgufWriter remove(String key) {
        metadata.remove(key);
        return this;
    }

    /**
     * Sets the alignment of tensor data. The {@code general.alignment} entry takes the value; it is added only when
     * the alignment is not the default 32.
     *
     * @throws IllegalArgumentException if {@code bytes} is not a positive power of two
     */
    public GgufWriter alignment(int bytes) {
        if (bytes != GgufMetadata.DEFAULT_ALIGNMENT || metadata.containsKey(GgufMetadata.ALIGNMENT_KEY)) {
            put(GgufMetadata.ALIGNMENT_KEY, GgufValue.ofUInt32(bytes));
        }
        return this;
    }

    /** The alignment the file will have. */
    public long alignment() {
        GgufValue value = metadata.get(GgufMetadata.ALIGNMENT_KEY);
        return value == null ? GgufMetadata.DEFAULT_ALIGNMENT : value.asLong();
    }

    /** The metadata as it will be written. */
    public GgufMetadata metadata() {
        return new GgufMetadata(metadata);
    }

    /**
     * Adds a tensor whose bytes are {@code data} (which must stay readable until {@link #write}).
     *
     * @param shape ggml's {@code ne}, innermost first
     * @throws IllegalArgumentException if the name is taken, the shape is not valid for the type, or {@code data}
     *                                  is not exactly the tensor's size
     */
    public GgufWriter addTensor(String name, GgmlType type, long[] shape, MemorySegment data) {
        Objects.requireNonNull(data, "data");
        long size = checkedInfo(name, type, shape).byteSize();
        if (data.byteSize() != size) {
            throw new IllegalArgumentException("tensor '%s' of %s %s takes %d bytes, but the data has %d"
                    .formatted(name, type, Arrays.toString(shape), size, data.byteSize()));
        }
        return addTensor(name, type, shape, destination -> MemorySegment.copy(data, 0, destination, 0, size));
    }

    /**
     * Adds a tensor whose bytes {@code data} writes when the file is written, so that a large file can be produced
     * one tensor at a time without holding it in memory.
     *
     * @param shape ggml's {@code ne}, innermost first
     * @throws IllegalArgumentException if the name is taken or the shape is not valid for the type
     */
    public GgufWriter addTensor(String name, GgmlType type, long[] shape, TensorData data) {
        Objects.requireNonNull(data, "data");
        GgufTensorInfo info = checkedInfo(name, type, shape);
        tensors.put(name, new Tensor(info, data));
        return this;
    }

    private GgufTensorInfo checkedInfo(String name, GgmlType type, long[] shape) {
        if (tensors.containsKey(name)) {
            throw new IllegalArgumentException("tensor '" + name + "' is already added");
        }
        return new GgufTensorInfo(name, shape, type, 0);
    }

    /** The tensors as they will be written, with their offsets in the data section. */
    public List<GgufTensorInfo> tensors() {
        long alignment = alignment();
        List<GgufTensorInfo> placed = new ArrayList<>(tensors.size());
        long offset = 0;
        for (Tensor tensor : tensors.values()) {
            GgufTensorInfo info = tensor.info();
            placed.add(new GgufTensorInfo(info.name(), info.shape(), info.type(), offset));
            offset = alignUp(Math.addExact(offset, info.byteSize()), alignment);
        }
        return placed;
    }

    /**
     * Writes the file: into a new file next to {@code path}, which then replaces {@code path} in one atomic move,
     * so {@code path} never holds a partly written file. Only a regular file is replaced: a symbolic link, a
     * directory, a FIFO or a device at {@code path} is refused, never replaced nor followed.
     *
     * @throws IllegalArgumentException if a string is not valid Unicode (an unpaired surrogate)
     * @throws FileSystemException      if {@code path} exists and is not a regular file
     */
    public void write(Path path) throws IOException {
        refuseUnlessRegularOrAbsent(path);
        List<GgufTensorInfo> placed = tensors();
        byte[] header = encodeHeader(placed);
        long alignment = alignment();
        long dataOffset = alignUp(header.length, alignment);
        long dataSize = placed.isEmpty() ? 0 : alignUp(placed.getLast().offset() + placed.getLast().byteSize(), alignment);
        long fileSize = Math.addExact(dataOffset, dataSize);

        Path absolute = path.toAbsolutePath();
        Path temporary = absolute.resolveSibling(".%s.%x.tmp"
                .formatted(absolute.getFileName(), ThreadLocalRandom.current().nextLong()));
        try {
            try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                writeFully(channel, ByteBuffer.wrap(header), 0);
                if (fileSize > header.length) {
                    // Sets the size; the padding and the data read as zeros until written.
                    writeFully(channel, ByteBuffer.allocate(1), fileSize - 1);
                }
                if (dataSize > 0) {
                    fillData(channel, dataOffset, dataSize, placed);
                }
                channel.force(true);
            }
            // Checked again: the data took time, and the move would replace whatever is there by now.
            refuseUnlessRegularOrAbsent(absolute);
            Files.move(temporary, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (Throwable failure) {
            Files.deleteIfExists(temporary);
            throw failure;
        }
    }

    private static void refuseUnlessRegularOrAbsent(Path path) throws IOException {
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException absent) {
            return;
        }
        if (!attributes.isRegularFile()) {
            String kind = attributes.isSymbolicLink() ? "a symbolic link" : attributes.isDirectory() ? "a directory"
                    : "a FIFO, socket or device";
            throw new FileSystemException(path.toString(), null,
                    "exists and is " + kind + ", not a regular file; refusing to replace it");
        }
    }

    private void fillData(FileChannel channel, long dataOffset, long dataSize, List<GgufTensorInfo> placed)
            throws IOException {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment region = channel.map(FileChannel.MapMode.READ_WRITE, dataOffset, dataSize, arena);
            for (GgufTensorInfo info : placed) {
                tensors.get(info.name()).data().fill(region.asSlice(info.offset(), info.byteSize()));
            }
            region.force();
        }
    }

    private static void writeFully(FileChannel channel, ByteBuffer bytes, long position) throws IOException {
        while (bytes.hasRemaining()) {
            position += channel.write(bytes, position);
        }
    }

    private static long alignUp(long position, long alignment) {
        return Math.addExact(position, alignment - 1) & -alignment;
    }

    private byte[] encodeHeader(List<GgufTensorInfo> placed) {
        HeaderEncoder out = new HeaderEncoder();
        out.u32(GgufReader.MAGIC);
        out.u32(3);
        out.u64(placed.size());
        out.u64(metadata.size());
        metadata.forEach((key, value) -> {
            out.string(key, key);
            out.u32(value.type().id());
            out.value(value, key);
        });
        for (GgufTensorInfo info : placed) {
            out.string(info.name(), info.name());
            out.u32(info.dimensions());
            for (long dimension : info.shape()) {
                out.u64(dimension);
            }
            out.u32(info.type().id());
            out.u64(info.offset());
        }
        return out.bytes.toByteArray();
    }

    /** Little-endian GGUF encoding into a growing byte array. */
    private static final class HeaderEncoder {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final ByteBuffer scratch = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        private final CharsetEncoder utf8 = StandardCharsets.UTF_8.newEncoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);

        void u32(int value) {
            bytes.write(scratch.clear().putInt(value).array(), 0, 4);
        }

        void u64(long value) {
            bytes.write(scratch.clear().putLong(value).array(), 0, 8);
        }

        /** A u64 byte length and the UTF-8 bytes; {@code owner} names the key or tensor in errors. */
        void string(String value, String owner) {
            ByteBuffer encoded;
            try {
                encoded = utf8.reset().encode(CharBuffer.wrap(value));
            } catch (CharacterCodingException e) {
                throw new IllegalArgumentException("a string in '" + owner + "' is not valid Unicode", e);
            }
            u64(encoded.remaining());
            bytes.write(encoded.array(), encoded.arrayOffset() + encoded.position(), encoded.remaining());
        }

        void value(GgufValue value, String key) {
            Object v = value.value();
            switch (value.type()) {
                case UINT8, INT8 -> bytes.write((Byte) v);
                case BOOL -> bytes.write((Boolean) v ? 1 : 0);
                case UINT16, INT16 -> bytes.write(scratch.clear().putShort((Short) v).array(), 0, 2);
                case UINT32, INT32 -> u32((Integer) v);
                case UINT64, INT64 -> u64((Long) v);
                case FLOAT32 -> u32(Float.floatToRawIntBits((Float) v));
                case FLOAT64 -> u64(Double.doubleToRawLongBits((Double) v));
                case STRING -> string((String) v, key);
                case ARRAY -> array((GgufArray) v, key);
            }
        }

        void array(GgufArray array, String key) {
            int n = array.size();
            u32(array.elementType().id());
            u64(n);
            switch (array.elementType()) {
                case STRING -> {
                    for (String s : array.strings()) {
                        string(s, key);
                    }
                }
                case ARRAY -> {
                    for (GgufArray nested : array.arrays()) {
                        array(nested, key);
                    }
                }
                case BOOL -> {
                    for (boolean b : array.booleans()) {
                        bytes.write(b ? 1 : 0);
                    }
                }
                case UINT8, INT8 -> bytes.write(array.bytes(), 0, n);
                default -> {
                    ByteBuffer packed = ByteBuffer.allocate(n * array.elementType().minEncodedBytes())
                            .order(ByteOrder.LITTLE_ENDIAN);
                    switch (array.elementType()) {
                        case UINT16, INT16 -> packed.asShortBuffer().put(array.shorts());
                        case UINT32, INT32 -> packed.asIntBuffer().put(array.ints());
                        case UINT64, INT64 -> packed.asLongBuffer().put(array.longs());
                        case FLOAT32 -> packed.asFloatBuffer().put(array.floats());
                        case FLOAT64 -> packed.asDoubleBuffer().put(array.doubles());
                        default -> throw new IllegalStateException("unexpected " + array.elementType());
                    }
                    bytes.write(packed.array(), 0, packed.capacity());
                }
            }
        }
    }
}
