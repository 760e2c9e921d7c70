package dev.winnow.tests.hostile;

import dev.winnow.gguf.GgufFile;
import dev.winnow.gguf.GgufTensorInfo;
import dev.winnow.gguf.GgufWriter;
import dev.winnow.tensors.GgmlType;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The hand-crafted hostile files of issue 18, generated from a real model by the tests themselves (no binary
 * files in the repository): each is the source model with a few metadata values or tensors changed.
 */
final class CraftedModels {
    private CraftedModels() {
    }

    /** {@code source} rewritten with {@code metadata} edits applied and tensors replaced by {@code replacements}. */
    static Path rewrite(Path source, Path out, Consumer<GgufWriter> metadata, Map<String, Replacement> replacements)
            throws IOException {
        try (GgufFile file = GgufFile.open(source); Arena arena = Arena.ofConfined()) {
            GgufWriter writer = new GgufWriter().putAll(file.metadata());
            metadata.accept(writer);
            for (GgufTensorInfo t : file.tensors()) {
                Replacement replacement = replacements.get(t.name());
                if (replacement == null) {
                    writer.addTensor(t.name(), t.type(), t.shape(), file.tensorData(t));
                } else {
                    MemorySegment data = arena.allocate(replacement.type().rowBytes(elements(replacement.shape())));
                    MemorySegment original = file.tensorData(t);
                    MemorySegment.copy(original, 0, data, 0, Math.min(original.byteSize(), data.byteSize()));
                    replacement.edit().accept(data);
                    writer.addTensor(t.name(), replacement.type(), replacement.shape(), data);
                }
            }
            writer.write(out);
        }
        return out;
    }

    /** A tensor written with another shape, its bytes (the original's, as far as they go) edited. */
    record Replacement(GgmlType type, long[] shape, Consumer<MemorySegment> edit) {
        static Replacement edited(GgufTensorInfo original, Consumer<MemorySegment> edit) {
            return new Replacement(original.type(), original.shape(), edit);
        }
    }

    private static long elements(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** Sets float {@code index} of an F32 tensor. */
    static Consumer<MemorySegment> setFloat(long index, float value) {
        return data -> data.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, index, value);
    }

    /**
     * A copy of the file with the type of tensor {@code name} changed in its tensor info, as one flipped byte
     * does (F32 is 0, Q4_0 is 2); its data stay where and as they were.
     */
    static Path retypeInPlace(Path source, Path out, String name, GgmlType newType) throws IOException {
        byte[] bytes = Files.readAllBytes(source);
        byte[] needle = name.getBytes(StandardCharsets.UTF_8);
        int at = indexOfTensorName(bytes, needle);
        ByteBuffer le = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int dimensionsAt = at + needle.length;
        int dimensions = le.getInt(dimensionsAt);
        int typeAt = dimensionsAt + 4 + 8 * dimensions;
        le.putInt(typeAt, newType.id());
        return Files.write(out, bytes);
    }

    /** Where a tensor's name starts: its bytes, preceded by their length as a u64. */
    private static int indexOfTensorName(byte[] bytes, byte[] name) {
        outer:
        for (int i = 8; i + name.length <= bytes.length; i++) {
            for (int j = 0; j < name.length; j++) {
                if (bytes[i + j] != name[j]) {
                    continue outer;
                }
            }
            long length = ByteBuffer.wrap(bytes, i - 8, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (length == name.length) {
                return i;
            }
        }
        throw new IllegalArgumentException("no tensor info named " + new String(name, StandardCharsets.UTF_8));
    }
}
