package dev.winnow.tests.gguf;

import dev.winnow.gguf.GgufFile;
import dev.winnow.gguf.GgufFormatException;
import dev.winnow.gguf.GgufMetadata;
import dev.winnow.gguf.GgufTensorInfo;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The shared stories260K models and tokenizer vocabularies read as their READMEs describe them. */
class RealGgufFilesTest {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** file, type of the large matrices, tensor count (the llama.cpp conversion keeps a separate output.weight). */
    @ParameterizedTest
    @CsvSource({
            "stories260K-f32.gguf, F32, 47",
            "stories260K-f16.gguf, F16, 47",
            "stories260K-q8_0.gguf, Q8_0, 47",
            "stories260K-q4_0.gguf, Q4_0, 47",
            "stories260K.gguf, F32, 48"})
    void storiesModels(String name, GgmlType matrixType, int tensorCount) throws IOException {
        try (GgufFile gguf = GgufFile.open(SharedFiles.requireShared("models/" + name))) {
            assertEquals(3, gguf.version());
            assertEquals(32, gguf.alignment());
            GgufMetadata metadata = gguf.metadata();
            assertEquals("llama", metadata.require("general.architecture").asString());
            assertEquals(64, metadata.require("llama.embedding_length").asInt());
            assertEquals(5, metadata.require("llama.block_count").asInt());
            assertEquals(172, metadata.require("llama.feed_forward_length").asInt());
            assertEquals(8, metadata.require("llama.attention.head_count").asInt());
            assertEquals(4, metadata.require("llama.attention.head_count_kv").asInt());
            assertEquals(1e-5f, metadata.require("llama.attention.layer_norm_rms_epsilon").asFloat());
            assertEquals("llama", metadata.require("tokenizer.ggml.model").asString());
            String[] tokens = metadata.require("tokenizer.ggml.tokens").asArray().strings();
            assertEquals(512, tokens.length);
            assertEquals(512, metadata.require("tokenizer.ggml.scores").asArray().floats().length);
            assertEquals(512, metadata.require("tokenizer.ggml.token_type").asArray().ints().length);
            assertEquals("<s>", tokens[metadata.require("tokenizer.ggml.bos_token_id").asInt()]);
            assertEquals("</s>", tokens[metadata.require("tokenizer.ggml.eos_token_id").asInt()]);

            assertEquals(tensorCount, gguf.tensors().size());
            GgufTensorInfo embeddings = gguf.tensor("token_embd.weight").orElseThrow();
            assertArrayEquals(new long[] {64, 512}, embeddings.shape());
            assertEquals(matrixType, embeddings.type());
            GgufTensorInfo down = gguf.tensor("blk.0.ffn_down.weight").orElseThrow();
            assertArrayEquals(new long[] {172, 64}, down.shape());
            // 172 is not a whole number of 32-value blocks: the quantized files keep these in F16.
            assertEquals(matrixType.blockSize() == 1 ? matrixType : GgmlType.F16, down.type());
            GgufTensorInfo norm = gguf.tensor("blk.4.ffn_norm.weight").orElseThrow();
            assertArrayEquals(new long[] {64}, norm.shape());
            assertEquals(GgmlType.F32, norm.type());
            for (int layer = 0; layer < 5; layer++) {
                assertArrayEquals(new long[] {64, 32}, gguf.tensor("blk." + layer + ".attn_k.weight").orElseThrow().shape());
            }
        }
    }

    @Test
    void llamaCppConversionHoldsTheSameWeights() throws IOException {
        try (GgufFile ours = GgufFile.open(SharedFiles.requireShared("models/stories260K-f32.gguf"));
             GgufFile theirs = GgufFile.open(SharedFiles.requireShared("models/stories260K.gguf"))) {
            for (GgufTensorInfo info : ours.tensors()) {
                MemorySegment expected = ours.tensorData(info);
                MemorySegment actual = theirs.tensorData(theirs.tensor(info.name()).orElseThrow());
                assertEquals(-1, expected.mismatch(actual), info.name());
            }
        }
    }

    /** Each F16 weight is the F32 weight rounded to half precision (to nearest, ties to even). */
    @Test
    void f16FileIsTheF32FileRounded() throws IOException {
        try (GgufFile f32 = GgufFile.open(SharedFiles.requireShared("models/stories260K-f32.gguf"));
             GgufFile f16 = GgufFile.open(SharedFiles.requireShared("models/stories260K-f16.gguf"))) {
            int halfTensors = 0;
            for (GgufTensorInfo info : f16.tensors()) {
                GgufTensorInfo source = f32.tensor(info.name()).orElseThrow();
                assertArrayEquals(source.shape(), info.shape(), info.name());
                MemorySegment wide = f32.tensorData(source);
                MemorySegment data = f16.tensorData(info);
                if (info.type() == GgmlType.F32) {
                    assertEquals(-1, wide.mismatch(data), info.name());
                    continue;
                }
                assertEquals(GgmlType.F16, info.type(), info.name());
                halfTensors++;
                for (long i = 0; i < info.elementCount(); i++) {
                    short expected = Float.floatToFloat16(wide.getAtIndex(F32, i));
                    assertEquals(expected, data.getAtIndex(F16, i), () -> info.name() + " element mismatch");
                }
            }
            assertEquals(36, halfTensors, "token embeddings and 7 matrices in each of 5 layers");
        }
    }

    @Test
    void llamaVocabulary() throws IOException {
        try (GgufFile gguf = openVocabulary("ggml-vocab-llama-spm.gguf")) {
            GgufMetadata metadata = gguf.metadata();
            assertEquals("llama", metadata.require("tokenizer.ggml.model").asString());
            assertEquals(32000, metadata.require("tokenizer.ggml.tokens").asArray().size());
            assertEquals(32000, metadata.require("tokenizer.ggml.scores").asArray().size());
            assertTrue(gguf.tensors().isEmpty());
        }
    }

    @Test
    void gpt2Vocabulary() throws IOException {
        try (GgufFile gguf = openVocabulary("ggml-vocab-gpt-2.gguf")) {
            GgufMetadata metadata = gguf.metadata();
            assertEquals("gpt2", metadata.require("tokenizer.ggml.model").asString());
            assertEquals(50257, metadata.require("tokenizer.ggml.tokens").asArray().size());
            assertTrue(metadata.require("tokenizer.ggml.merges").asArray().size() > 0);
            assertTrue(gguf.tensors().isEmpty());
        }
    }

    /**
     * Opens a shared vocabulary. A copy damaged by a text conversion cannot be read: then this checks that it is
     * refused cleanly and skips the rest, saying so.
     */
    private static GgufFile openVocabulary(String name) throws IOException {
        Path file = SharedFiles.requireShared("vocab/" + name);
        if (SharedFiles.damagedByTextConversion(file)) {
            GgufFormatException refused = assertThrows(GgufFormatException.class, () -> GgufFile.open(file).close());
            assertTrue(refused.offset() < Files.size(file), refused.getMessage());
            String reason = file + " was damaged by a text conversion (bytes that were not UTF-8 became U+FFFD), so"
                    + " it is refused (" + refused.getMessage() + "); the vocabulary checks need an intact copy";
            System.err.println("skipped: " + reason);
            Assumptions.abort(reason);
        }
        return GgufFile.open(file);
    }
}
