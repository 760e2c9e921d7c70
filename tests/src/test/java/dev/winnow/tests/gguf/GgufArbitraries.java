package dev.winnow.tests.gguf;

import dev.winnow.gguf.GgufArray;
import dev.winnow.gguf.GgufMetadata;
import dev.winnow.gguf.GgufValue;
import dev.winnow.gguf.GgufValueType;
import dev.winnow.gguf.GgufWriter;
import dev.winnow.tensors.GgmlType;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Tuple;

import java.lang.foreign.MemorySegment;
import java.lang.reflect.Array;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** Random GGUF contents: metadata of every value type (nested arrays included) and tensors of valid shapes. */
final class GgufArbitraries {
    /** Tensor types Winnow computes with. */
    static final List<GgmlType> TENSOR_TYPES = List.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0,
            GgmlType.Q4_0);
    private static final int MAX_GENERATED_DEPTH = 3;

    private GgufArbitraries() {
    }

    /** A tensor to write: its bytes are random. */
    record TensorSpec(String name, GgmlType type, long[] shape, byte[] data) {
        @Override
        public String toString() {
            return name + " " + type + " " + Arrays.toString(shape);
        }
    }

    /** Everything a file holds. */
    record FileSpec(List<Map.Entry<String, GgufValue>> entries, List<TensorSpec> tensors, int alignment) {
        GgufWriter writer() {
            GgufWriter writer = new GgufWriter();
            entries.forEach(entry -> writer.put(entry.getKey(), entry.getValue()));
            writer.alignment(alignment);
            for (TensorSpec tensor : tensors) {
                writer.addTensor(tensor.name(), tensor.type(), tensor.shape(), MemorySegment.ofArray(tensor.data()));
            }
            return writer;
        }
    }

    static Arbitrary<FileSpec> files(int maxEntries, int maxTensors) {
        Arbitrary<List<Map.Entry<String, GgufValue>>> entries = Combinators.combine(keys(), values(MAX_GENERATED_DEPTH))
                .as(Map::entry)
                .list().ofMaxSize(maxEntries).uniqueElements(Map.Entry::getKey);
        Arbitrary<List<TensorSpec>> tensors = tensors().list().ofMaxSize(maxTensors).uniqueElements(TensorSpec::name);
        Arbitrary<Integer> alignments = Arbitraries.integers().between(0, 12).map(power -> 1 << power);
        return Combinators.combine(entries, tensors, alignments).as(FileSpec::new);
    }

    /** Any text: mostly ASCII, sometimes any code point outside the surrogates (so 1 to 4 UTF-8 bytes each). */
    static Arbitrary<String> text(int maxLength) {
        Arbitrary<Integer> codePoints = Arbitraries.frequencyOf(
                Tuple.of(3, Arbitraries.integers().between(0, 0x7F)),
                Tuple.of(1, Arbitraries.integers().between(0x80, 0x10FFFF)
                        .filter(cp -> cp < Character.MIN_SURROGATE || cp > Character.MAX_SURROGATE)));
        return codePoints.list().ofMaxSize(maxLength)
                .map(list -> new String(list.stream().mapToInt(Integer::intValue).toArray(), 0, list.size()));
    }

    private static Arbitrary<String> keys() {
        return text(24).filter(key -> !key.equals(GgufMetadata.ALIGNMENT_KEY));
    }

    /** A value of any type; arrays nest at most {@code depth} levels. */
    static Arbitrary<GgufValue> values(int depth) {
        return Arbitraries.of(GgufValueType.values())
                .filter(type -> depth > 0 || type != GgufValueType.ARRAY)
                .flatMap(type -> type == GgufValueType.ARRAY
                        ? arrays(depth).map(GgufValue::ofArray)
                        : single(type));
    }

    private static Arbitrary<GgufValue> single(GgufValueType type) {
        return elements(type).map(value -> new GgufValue(type, value));
    }

    /** A boxed value of a non-array type, edge cases (0, -1, min, max) included by jqwik. */
    private static Arbitrary<?> elements(GgufValueType type) {
        return switch (type) {
            case UINT8, INT8 -> Arbitraries.bytes();
            case UINT16, INT16 -> Arbitraries.shorts();
            case UINT32, INT32 -> Arbitraries.integers();
            case UINT64, INT64 -> Arbitraries.longs();
            // From raw bits, so NaNs, infinities, subnormals and -0 all occur.
            case FLOAT32 -> Arbitraries.integers().map(Float::intBitsToFloat);
            case FLOAT64 -> Arbitraries.longs().map(Double::longBitsToDouble);
            case BOOL -> Arbitraries.of(true, false);
            case STRING -> text(12);
            case ARRAY -> throw new IllegalArgumentException("arrays are built by arrays()");
        };
    }

    private static Arbitrary<GgufArray> arrays(int depth) {
        return Arbitraries.of(GgufValueType.values())
                .filter(type -> depth > 1 || type != GgufValueType.ARRAY)
                .flatMap(type -> type == GgufValueType.ARRAY
                        ? arrays(depth - 1).array(GgufArray[].class).ofMaxSize(3).map(GgufArray::ofArrays)
                        : elements(type).list().ofMaxSize(16).map(list -> new GgufArray(type, toArray(type, list))));
    }

    /** The Java array a GgufArray of {@code type} holds, from boxed elements. */
    private static Object toArray(GgufValueType type, List<?> elements) {
        Class<?> component = switch (type) {
            case UINT8, INT8 -> byte.class;
            case UINT16, INT16 -> short.class;
            case UINT32, INT32 -> int.class;
            case UINT64, INT64 -> long.class;
            case FLOAT32 -> float.class;
            case FLOAT64 -> double.class;
            case BOOL -> boolean.class;
            case STRING -> String.class;
            case ARRAY -> GgufArray.class;
        };
        Object array = Array.newInstance(component, elements.size());
        for (int i = 0; i < elements.size(); i++) {
            Array.set(array, i, elements.get(i));
        }
        return array;
    }

    /**
     * A tensor of a computable type with 1 to 4 dimensions: rows of 1 to 3 blocks (8 to 24 values for the
     * unquantized types), other dimensions 1 to 3.
     */
    static Arbitrary<TensorSpec> tensors() {
        Arbitrary<long[]> outer = Arbitraries.longs().between(1, 3).array(long[].class).ofMinSize(0).ofMaxSize(3);
        return Combinators.combine(text(16), Arbitraries.of(TENSOR_TYPES), Arbitraries.integers().between(1, 3), outer)
                .flatAs((name, type, rowBlocks, outerDims) -> {
                    long[] shape = new long[1 + outerDims.length];
                    shape[0] = (long) rowBlocks * type.blockSize() * (type.blockSize() == 1 ? 8 : 1);
                    System.arraycopy(outerDims, 0, shape, 1, outerDims.length);
                    int bytes = Math.toIntExact(type.rowBytes(Arrays.stream(shape).reduce(1, Math::multiplyExact)));
                    return Arbitraries.bytes().array(byte[].class).ofSize(bytes)
                            .map(data -> new TensorSpec(name, type, shape, data));
                });
    }
}
