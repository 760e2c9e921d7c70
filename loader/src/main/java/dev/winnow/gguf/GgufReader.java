package dev.winnow.gguf;

import dev.winnow.tensors.GgmlType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SequencedMap;

/**
 * Parses and checks the header of a GGUF file held in a memory segment. Every count, length and offset is checked
 * against the bytes that are left before anything is allocated or read, so that no input can make it allocate more
 * than a small multiple of the file's size, read outside the file, or loop without consuming bytes.
 */
final class GgufReader {
    /** "GGUF" read as a little-endian u32. */
    static final int MAGIC = 0x46554747;
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Key length, value type and the smallest value. */
    private static final int MIN_ENTRY_BYTES = 8 + 4 + 1;
    /** Name length, dimension count, one dimension, type, offset. */
    private static final int MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8;
    /** Longest Java array (and so string, list and map) this reader builds. */
    private static final int MAX_ELEMENTS = Integer.MAX_VALUE - 8;
    /** Room reserved for elements that are yet to be read. */
    private static final int INITIAL_CAPACITY = 1024;

    /** What the header says. */
    record Header(int version, GgufMetadata metadata, long alignment, long dataOffset, List<GgufTensorInfo> tensors) {
    }

    private final Path file;
    private final MemorySegment data;
    private final long size;
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    private long position;

    private GgufReader(Path file, MemorySegment data) {
        this.file = file;
        this.data = data;
        this.size = data.byteSize();
    }

    /**
     * Reads the header of the GGUF file in {@code data}.
     *
     * @param file named in error messages; may be null
     * @throws GgufFormatException if the file is not a valid little-endian GGUF v2 or v3 file
     */
    static Header read(Path file, MemorySegment data) {
        return new GgufReader(file, data).read();
    }

    private Header read() {
        int version = magicAndVersion();
        long tensorCountAt = position;
        long tensorCount = u64("the tensor count", null);
        long entryCount = u64("the metadata count", null);
        checkCounts(tensorCount, entryCount, tensorCountAt);
        GgufMetadata metadata = metadata((int) entryCount);
        long alignment = metadata.find(GgufMetadata.ALIGNMENT_KEY).map(GgufValue::asLong)
                .orElse((long) GgufMetadata.DEFAULT_ALIGNMENT);
        List<ReadTensor> tensors = tensorInfos((int) tensorCount);
        long dataOffset = (position + alignment - 1) & -alignment;
        checkTensorData(tensors, dataOffset, alignment);
        return new Header(version, metadata, alignment, dataOffset,
                tensors.stream().map(ReadTensor::info).toList());
    }

    private int magicAndVersion() {
        if (size < 4) {
            throw error("file of " + size + " bytes is too short to be a GGUF file", 0);
        }
        int magic = data.get(U32, 0);
        if (magic != MAGIC) {
            throw error("not a GGUF file: it starts with 0x%08X, not \"GGUF\"".formatted(Integer.reverseBytes(magic)), 0);
        }
        position = 4;
        int version = u32("the version", null);
        if (version == 2 || version == 3) {
            return version;
        }
        int swapped = Integer.reverseBytes(version);
        if (swapped >= 1 && swapped <= 3) {
            throw error("the version reads 0x%08X, which is version %d byte-swapped: the file is big-endian, and only"
                    .formatted(version, swapped) + " little-endian GGUF is supported", 4);
        }
        if (version == 1) {
            throw error("GGUF version 1 is not supported (only versions 2 and 3 are)", 4);
        }
        throw error("unknown GGUF version " + Integer.toUnsignedString(version) + " (only 2 and 3 are supported)", 4);
    }

    private void checkCounts(long tensorCount, long entryCount, long at) {
        long left = size - position;
        boolean fits = tensorCount >= 0 && entryCount >= 0
                && tensorCount <= left / MIN_TENSOR_INFO_BYTES && entryCount <= left / MIN_ENTRY_BYTES
                && tensorCount * MIN_TENSOR_INFO_BYTES + entryCount * MIN_ENTRY_BYTES <= left;
        if (!fits) {
            throw error("the header claims %s tensors and %s metadata entries, which cannot fit in the %d bytes that follow"
                    .formatted(Long.toUnsignedString(tensorCount), Long.toUnsignedString(entryCount), left), at);
        }
        if (tensorCount > MAX_ELEMENTS || entryCount > MAX_ELEMENTS) {
            throw error("the header claims more than " + MAX_ELEMENTS + " tensors or metadata entries", at);
        }
    }

    private GgufMetadata metadata(int count) {
        SequencedMap<String, GgufValue> entries = new LinkedHashMap<>();
        for (int i = 0; i < count; i++) {
            long keyAt = position;
            String key = string("a metadata key", null);
            if (entries.containsKey(key)) {
                throw error("duplicate metadata key '" + key + "'", keyAt);
            }
            GgufValueType type = valueType(key);
            long valueAt = position;
            GgufValue value = type == GgufValueType.ARRAY ? GgufValue.ofArray(array(key, 1))
                    : new GgufValue(type, single(type, key));
            if (key.equals(GgufMetadata.ALIGNMENT_KEY)) {
                String problem = GgufMetadata.alignmentProblem(value);
                if (problem != null) {
                    throw error(problem, valueAt);
                }
            }
            entries.put(key, value);
        }
        return new GgufMetadata(entries);
    }

    private GgufValueType valueType(String key) {
        long at = position;
        int id = u32("the value type of", key);
        GgufValueType type = GgufValueType.find(Integer.toUnsignedLong(id)).orElse(null);
        if (type == null) {
            throw error("unknown value type id " + Integer.toUnsignedString(id) + " in '" + key + "'", at);
        }
        return type;
    }

    /** One value of any type but ARRAY. */
    private Object single(GgufValueType type, String key) {
        if (type == GgufValueType.STRING) {
            return string("a string in", key);
        }
        need(type.minEncodedBytes(), "the value of", key);
        long at = position;
        position += type.minEncodedBytes();
        return switch (type) {
            case UINT8, INT8 -> data.get(ValueLayout.JAVA_BYTE, at);
            case UINT16, INT16 -> data.get(U16, at);
            case UINT32, INT32 -> data.get(U32, at);
            case UINT64, INT64 -> data.get(U64, at);
            case FLOAT32 -> data.get(F32, at);
            case FLOAT64 -> data.get(F64, at);
            case BOOL -> bool(data.get(ValueLayout.JAVA_BYTE, at), key, at);
            case STRING, ARRAY -> throw new IllegalArgumentException(type + " is not a single value");
        };
    }

    private boolean bool(byte value, String key, long at) {
        if (value != 0 && value != 1) {
            throw error("BOOL in '" + key + "' is " + Byte.toUnsignedInt(value) + "; it must be 0 or 1", at);
        }
        return value == 1;
    }

    private GgufArray array(String key, int depth) {
        if (depth > GgufArray.MAX_DEPTH) {
            throw error("arrays in '" + key + "' nest deeper than " + GgufArray.MAX_DEPTH + " levels", position);
        }
        GgufValueType elementType = valueType(key);
        long countAt = position;
        long count = u64("an array length in", key);
        long left = size - position;
        if (count < 0 || count > left / elementType.minEncodedBytes()) {
            throw error("array in '%s' claims %s %s elements, which need at least %d bytes each, but %d bytes are left"
                    .formatted(key, Long.toUnsignedString(count), elementType, elementType.minEncodedBytes(), left),
                    countAt);
        }
        if (count > MAX_ELEMENTS) {
            throw error("array in '" + key + "' has " + count + " elements; at most " + MAX_ELEMENTS + " are supported",
                    countAt);
        }
        int n = (int) count;
        Object values = switch (elementType) {
            case UINT8, INT8 -> copyOut(ValueLayout.JAVA_BYTE, new byte[n], n);
            case UINT16, INT16 -> copyOut(U16, new short[n], n);
            case UINT32, INT32 -> copyOut(U32, new int[n], n);
            case UINT64, INT64 -> copyOut(U64, new long[n], n);
            case FLOAT32 -> copyOut(F32, new float[n], n);
            case FLOAT64 -> copyOut(F64, new double[n], n);
            case BOOL -> {
                boolean[] booleans = new boolean[n];
                for (int i = 0; i < n; i++) {
                    booleans[i] = bool(data.get(ValueLayout.JAVA_BYTE, position), key, position);
                    position++;
                }
                yield booleans;
            }
            // Variable-size elements: the list grows as they are read, so a false count allocates nothing.
            case STRING -> {
                List<String> strings = new ArrayList<>(Math.min(n, INITIAL_CAPACITY));
                for (int i = 0; i < n; i++) {
                    strings.add(string("a string in", key));
                }
                yield strings.toArray(String[]::new);
            }
            case ARRAY -> {
                List<GgufArray> arrays = new ArrayList<>(Math.min(n, INITIAL_CAPACITY));
                for (int i = 0; i < n; i++) {
                    arrays.add(array(key, depth + 1));
                }
                yield arrays.toArray(GgufArray[]::new);
            }
        };
        return new GgufArray(elementType, values);
    }

    /** Copies {@code n} elements at the position into a Java array (whose size the caller has checked). */
    private Object copyOut(ValueLayout layout, Object destination, int n) {
        MemorySegment.copy(data, layout, position, destination, 0, n);
        position += n * layout.byteSize();
        return destination;
    }

    /** A tensor info and where its offset field is, for errors about its data. */
    private record ReadTensor(GgufTensorInfo info, long offsetFieldAt) {
    }

    private List<ReadTensor> tensorInfos(int count) {
        SequencedMap<String, ReadTensor> tensors = new LinkedHashMap<>();
        for (int i = 0; i < count; i++) {
            long nameAt = position;
            String name = string("a tensor name", null);
            if (tensors.containsKey(name)) {
                throw error("duplicate tensor name '" + name + "'", nameAt);
            }
            long dimensionsAt = position;
            int dimensions = u32("the dimension count of tensor", name);
            if (dimensions < 1 || dimensions > GgufTensorInfo.MAX_DIMENSIONS) {
                throw error("tensor '%s' has %s dimensions; 1 to %d are allowed"
                        .formatted(name, Integer.toUnsignedString(dimensions), GgufTensorInfo.MAX_DIMENSIONS),
                        dimensionsAt);
            }
            long[] shape = new long[dimensions];
            for (int d = 0; d < dimensions; d++) {
                shape[d] = u64("the shape of tensor", name);
            }
            long typeAt = position;
            int typeId = u32("the type of tensor", name);
            GgmlType type = GgmlType.fromId(Integer.toUnsignedLong(typeId)).orElseThrow(() -> error(
                    "tensor '" + name + "' has unknown type id " + Integer.toUnsignedString(typeId), typeAt));
            String problem = GgufTensorInfo.shapeProblem(shape, type);
            if (problem != null) {
                throw error("tensor '" + name + "': " + problem, dimensionsAt);
            }
            long offsetAt = position;
            long offset = u64("the data offset of tensor", name);
            if (offset < 0 || offset > size) {
                throw error("tensor '" + name + "' has data offset " + Long.toUnsignedString(offset)
                        + ", beyond the end of the " + size + "-byte file", offsetAt);
            }
            tensors.put(name, new ReadTensor(new GgufTensorInfo(name, shape, type, offset), offsetAt));
        }
        return List.copyOf(tensors.values());
    }

    /**
     * Each tensor's bytes are aligned, inside the file, shared with no other tensor, and fill the span up to the
     * next tensor's data (or the end of the file) but for the alignment padding: writers place tensors one after
     * another, so a size that does not fill its span means a wrong type or shape (one flipped byte in a tensor
     * info), which would otherwise read the weights with the wrong layout.
     */
    private void checkTensorData(List<ReadTensor> tensors, long dataOffset, long alignment) {
        for (ReadTensor read : tensors) {
            GgufTensorInfo tensor = read.info();
            if (tensor.offset() % alignment != 0) {
                throw error("tensor '%s' has data offset %d, which is not a multiple of the alignment %d"
                        .formatted(tensor.name(), tensor.offset(), alignment), read.offsetFieldAt());
            }
            long start = dataOffset + tensor.offset();
            if (start > size || tensor.byteSize() > size - start) {
                throw error("tensor '%s' needs %d bytes from byte %d, past the end of the %d-byte file"
                        .formatted(tensor.name(), tensor.byteSize(), start, size), read.offsetFieldAt());
            }
        }
        List<ReadTensor> byOffset = tensors.stream()
                .sorted(Comparator.comparingLong(read -> read.info().offset())).toList();
        for (int k = 0; k < byOffset.size(); k++) {
            GgufTensorInfo tensor = byOffset.get(k).info();
            boolean last = k == byOffset.size() - 1;
            long spanEnd = last ? size - dataOffset : byOffset.get(k + 1).info().offset();
            long unused = spanEnd - tensor.offset() - tensor.byteSize();
            if (unused < 0) {
                GgufTensorInfo after = byOffset.get(k + 1).info();
                throw error("the data of tensor '" + after.name() + "' overlaps that of tensor '" + tensor.name() + "'",
                        byOffset.get(k + 1).offsetFieldAt());
            }
            if (unused >= alignment) {
                throw error("tensor '%s' of type %s and shape %s takes %d bytes, but its data spans %d bytes up to %s; its type or shape is wrong"
                        .formatted(tensor.name(), tensor.type(), Arrays.toString(tensor.shape()), tensor.byteSize(),
                                spanEnd - tensor.offset(), last ? "the end of the file"
                                        : "tensor '" + byOffset.get(k + 1).info().name() + "'"),
                        byOffset.get(k).offsetFieldAt());
            }
        }
    }

    /** A u64 length and that many bytes of UTF-8; {@code what} and {@code subject} only name it in errors. */
    private String string(String what, String subject) {
        long lengthAt = position;
        long length = u64(what, subject);
        long left = size - position;
        if (length < 0 || length > left) {
            throw error("%s of %s bytes is longer than the %d bytes left"
                    .formatted(name(what, subject), Long.toUnsignedString(length), left), lengthAt);
        }
        if (length > MAX_ELEMENTS) {
            throw error(name(what, subject) + " of " + length + " bytes is longer than Java strings can be", lengthAt);
        }
        if (length == 0) {
            return "";
        }
        byte[] bytes = new byte[(int) length];
        MemorySegment.copy(data, ValueLayout.JAVA_BYTE, position, bytes, 0, bytes.length);
        // The JDK's decoder is fast but replaces malformed input by U+FFFD; only when that character appears does
        // the strict decoder have to tell a replacement from a U+FFFD that the file really holds.
        String decoded = new String(bytes, StandardCharsets.UTF_8);
        if (decoded.indexOf('\uFFFD') >= 0) {
            long malformedAt = firstMalformed(bytes);
            if (malformedAt >= 0) {
                throw error("invalid UTF-8 in " + name(what, subject), position + malformedAt);
            }
        }
        position += length;
        return decoded;
    }

    /** Where the first byte that is not part of valid UTF-8 is, or -1. */
    private long firstMalformed(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult result = utf8.reset().decode(in, out, true);
        if (!result.isError()) {
            result = utf8.flush(out);
        }
        return result.isError() ? in.position() : -1;
    }

    private int u32(String what, String subject) {
        need(4, what, subject);
        int value = data.get(U32, position);
        position += 4;
        return value;
    }

    private long u64(String what, String subject) {
        need(8, what, subject);
        long value = data.get(U64, position);
        position += 8;
        return value;
    }

    private void need(long bytes, String what, String subject) {
        if (bytes > size - position) {
            throw error("the file ends in " + name(what, subject) + ": " + bytes + " bytes needed, "
                    + (size - position) + " left", position);
        }
    }

    /** Names a field for an error message; built only when there is an error. */
    private static String name(String what, String subject) {
        return subject == null ? what : what + " '" + subject + "'";
    }

    private GgufFormatException error(String what, long at) {
        return new GgufFormatException(file, what, at);
    }
}
