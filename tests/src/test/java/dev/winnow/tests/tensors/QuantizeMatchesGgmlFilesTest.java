package dev.winnow.tests.tensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.winnow.gguf.GgufFile;
import dev.winnow.gguf.GgufTensorInfo;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tensors.Quantize;
import dev.winnow.tests.SharedFiles;

/**
 * Winnow's encoders reproduce, byte for byte, the tensors of stories260K as ggml's reference quantizer
 * wrote them: every tensor of stories260K-f32.gguf, encoded in the type the same tensor has in the
 * F16, Q8_0 or Q4_0 file (Q8_0/Q4_0 for the matrices, F16 for the ffn_down rows of 172 values that are
 * not whole blocks, F32 for the norms), gives exactly that file's bytes.
 */
class QuantizeMatchesGgmlFilesTest {

    @ParameterizedTest
    @ValueSource(strings = {"stories260K-q8_0.gguf", "stories260K-q4_0.gguf", "stories260K-f16.gguf"})
    void encodingTheF32TensorsGivesTheFilesBytes(String fileName) throws IOException {
        Path models = SharedFiles.requireShared("models");
        Map<GgmlType, Integer> compared = new EnumMap<>(GgmlType.class);
        try (GgufFile f32 = GgufFile.open(models.resolve("stories260K-f32.gguf"));
             GgufFile encoded = GgufFile.open(models.resolve(fileName))) {
            for (GgufTensorInfo source : f32.tensors()) {
                assertEquals(GgmlType.F32, source.type(), source.name());
                GgufTensorInfo target = encoded.tensor(source.name())
                        .orElseThrow(() -> new AssertionError(source.name() + " is missing from " + fileName));
                assertEquals(source.elementCount(), target.elementCount(), source.name());
                float[] values = f32.tensorData(source).toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
                MemorySegment ours = MemorySegment.ofArray(new byte[Math.toIntExact(target.byteSize())]);
                long written = Quantize.quantize(target.type(), values, 0, values.length, ours, 0);
                assertEquals(target.byteSize(), written, source.name());
                long mismatch = ours.mismatch(encoded.tensorData(target));
                assertEquals(-1L, mismatch, () -> "%s as %s first differs at byte %d".formatted(source.name(), target.type(), mismatch));
                compared.merge(target.type(), 1, Integer::sum);
            }
        }
        System.err.println(fileName + ": tensors compared by type " + compared);
        GgmlType main = fileName.contains("q8_0") ? GgmlType.Q8_0 : fileName.contains("q4_0") ? GgmlType.Q4_0 : GgmlType.F16;
        assertTrue(compared.getOrDefault(main, 0) >= 5, () -> "expected the matrices as " + main + ", compared " + compared);
        if (main != GgmlType.F16) {
            assertEquals(5, compared.getOrDefault(GgmlType.F16, 0), "the five ffn_down tensors are F16: " + compared);
        }
    }
}
