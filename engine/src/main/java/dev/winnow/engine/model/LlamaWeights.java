package dev.winnow.engine.model;

import dev.winnow.gguf.GgufFile;
import dev.winnow.gguf.GgufTensorInfo;
import dev.winnow.tensors.FloatTensor;
import dev.winnow.tensors.GgmlType;

import java.util.Arrays;

/**
 * The tensors of a Llama-style model as zero-copy views into the mapped GGUF file. Norm weights and biases are
 * small and read on every token, so they are dequantized once into float arrays. A fused matrix (Phi-3's
 * {@code attn_qkv} and {@code ffn_up}) is split into views of its row ranges, so the forward pass sees the same
 * separate projections for every family.
 */
public record LlamaWeights(FloatTensor tokenEmbedding, Layer[] layers, float[] outputNorm, FloatTensor output,
                           boolean tiedOutput, FloatTensor positionEmbedding, float[] outputNormBias,
                           float[] ropeFrequencyFactors) {

    /**
     * The weights of one transformer block. The biases (Qwen2, GPT-2), the per-head query/key norms (Qwen3) and
     * the gate (absent in GPT-2's feed-forward block) are null where the family has none.
     */
    public record Layer(float[] attentionNorm, FloatTensor wq, FloatTensor wk, FloatTensor wv, FloatTensor wo,
                        float[] ffnNorm, FloatTensor gate, FloatTensor up, FloatTensor down,
                        float[] qBias, float[] kBias, float[] vBias, float[] qNorm, float[] kNorm,
                        float[] attentionNormBias, float[] ffnNormBias, float[] oBias, float[] upBias, float[] downBias) {
    }

    /** Finds and shape-checks every tensor the configuration needs. */
    public static LlamaWeights load(GgufFile file, LlamaConfig c) {
        // Each layer has tensors of its own, so the file bounds the layer count before anything is sized by it.
        if (c.layers() > file.tensors().size()) {
            throw new ModelLoadException("block_count is %d, but the file holds only %d tensors, fewer than one per layer"
                    .formatted(c.layers(), file.tensors().size()));
        }
        FloatTensor embedding = matrix(file, "token_embd.weight", c.dim(), c.vocabularySize());
        Layer[] layers = new Layer[c.layers()];
        Architecture arch = c.architecture();
        for (int i = 0; i < c.layers(); i++) {
            String p = "blk." + i + ".";
            FloatTensor[] qkv = arch.fusedQkv()
                    ? split(file, p + "attn_qkv.weight", c.dim(), c.queryDim(), c.kvDim(), c.kvDim())
                    : new FloatTensor[] {matrix(file, p + "attn_q.weight", c.dim(), c.queryDim()),
                            matrix(file, p + "attn_k.weight", c.dim(), c.kvDim()),
                            matrix(file, p + "attn_v.weight", c.dim(), c.kvDim())};
            FloatTensor[] gateUp = arch.fusedGateUp()
                    ? split(file, p + "ffn_up.weight", c.dim(), c.ffnDim(), c.ffnDim())
                    : new FloatTensor[] {arch.gpt2Blocks() ? null : matrix(file, p + "ffn_gate.weight", c.dim(), c.ffnDim()),
                            matrix(file, p + "ffn_up.weight", c.dim(), c.ffnDim())};
            float[][] qkvBias = !arch.qkvBias() ? new float[3][]
                    : arch.fusedQkv() ? splitVector(vector(file, p + "attn_qkv.bias", c.queryDim() + 2 * c.kvDim()),
                            c.queryDim(), c.kvDim(), c.kvDim())
                    : new float[][] {vector(file, p + "attn_q.bias", c.queryDim()), vector(file, p + "attn_k.bias", c.kvDim()),
                            vector(file, p + "attn_v.bias", c.kvDim())};
            boolean gpt2 = arch.gpt2Blocks();
            layers[i] = new Layer(
                    vector(file, p + "attn_norm.weight", c.dim()),
                    qkv[0], qkv[1], qkv[2],
                    matrix(file, p + "attn_output.weight", c.queryDim(), c.dim()),
                    vector(file, p + "ffn_norm.weight", c.dim()),
                    gateUp[0], gateUp[1],
                    matrix(file, p + "ffn_down.weight", c.ffnDim(), c.dim()),
                    qkvBias[0], qkvBias[1], qkvBias[2],
                    arch.qkNorm() ? vector(file, p + "attn_q_norm.weight", c.headDim()) : null,
                    arch.qkNorm() ? vector(file, p + "attn_k_norm.weight", c.headDim()) : null,
                    arch.layerNorm() ? vector(file, p + "attn_norm.bias", c.dim()) : null,
                    arch.layerNorm() ? vector(file, p + "ffn_norm.bias", c.dim()) : null,
                    gpt2 ? vector(file, p + "attn_output.bias", c.dim()) : null,
                    gpt2 ? vector(file, p + "ffn_up.bias", c.ffnDim()) : null,
                    gpt2 ? vector(file, p + "ffn_down.bias", c.dim()) : null);
        }
        float[] outputNorm = vector(file, "output_norm.weight", c.dim());
        boolean tied = file.tensor("output.weight").isEmpty();
        FloatTensor output = tied ? embedding : matrix(file, "output.weight", c.dim(), c.vocabularySize());
        FloatTensor positions = arch.gpt2Blocks() ? matrix(file, "position_embd.weight", c.dim(), c.contextLength()) : null;
        float[] outputNormBias = arch.layerNorm() ? vector(file, "output_norm.bias", c.dim()) : null;
        if (file.tensor("rope_factors_long.weight").isPresent()) {
            throw new ModelLoadException("this model uses LongRoPE (rope_factors_long.weight / rope_factors_short.weight, "
                    + "as in Phi-3's 128k variants), which Winnow does not support yet");
        }
        // Llama 3.1 and later store per-frequency RoPE divisors for their long context.
        float[] ropeFactors = file.tensor("rope_freqs.weight").isPresent() ? vector(file, "rope_freqs.weight", c.ropeDim() / 2) : null;
        return new LlamaWeights(embedding, layers, outputNorm, output, tied, positions, outputNormBias, ropeFactors);
    }

    /** A tensor of ggml shape [cols, rows]: {@code rows} rows of {@code cols} values. */
    static FloatTensor matrix(GgufFile file, String name, int cols, int rows) {
        GgufTensorInfo info = require(file, name, new long[] {cols, rows});
        if (!info.type().computable()) {
            throw new ModelLoadException("tensor %s has type %s, which Winnow cannot compute (supported: %s)"
                    .formatted(name, info.type(), supportedTypes()));
        }
        return FloatTensor.of(info.type(), file.tensorData(info), rows, cols);
    }

    /** A fused matrix of ggml shape [cols, sum of parts], as one view per consecutive range of rows. */
    static FloatTensor[] split(GgufFile file, String name, int cols, int... parts) {
        int rows = Arrays.stream(parts).sum();
        FloatTensor whole = matrix(file, name, cols, rows);
        long rowBytes = whole.type().rowBytes(cols);
        FloatTensor[] views = new FloatTensor[parts.length];
        long offset = 0;
        for (int i = 0; i < parts.length; i++) {
            views[i] = FloatTensor.of(whole.type(), whole.segment().asSlice(offset, parts[i] * rowBytes), parts[i], cols);
            offset += parts[i] * rowBytes;
        }
        return views;
    }

    /** Consecutive ranges of a fused bias vector. */
    static float[][] splitVector(float[] whole, int... parts) {
        float[][] pieces = new float[parts.length][];
        int offset = 0;
        for (int i = 0; i < parts.length; i++) {
            pieces[i] = Arrays.copyOfRange(whole, offset, offset + parts[i]);
            offset += parts[i];
        }
        return pieces;
    }

    /** A 1-D tensor of {@code n} values, dequantized to floats. */
    static float[] vector(GgufFile file, String name, int n) {
        float[] values = new float[n];
        matrix(file, name, n, 1).dequantizeRow(0, values, 0);
        return values;
    }

    private static GgufTensorInfo require(GgufFile file, String name, long[] shape) {
        GgufTensorInfo info = file.tensor(name)
                .orElseThrow(() -> new ModelLoadException("missing tensor " + name));
        long[] actual = info.shape();
        boolean matches = Arrays.equals(actual, shape)
                || (shape.length == 2 && shape[1] == 1 && Arrays.equals(actual, new long[] {shape[0]}));
        if (!matches) {
            throw new ModelLoadException("tensor %s has shape %s, expected %s"
                    .formatted(name, Arrays.toString(actual), Arrays.toString(shape)));
        }
        return info;
    }

    private static String supportedTypes() {
        return Arrays.stream(GgmlType.values()).filter(GgmlType::computable).map(Enum::name)
                .reduce((a, b) -> a + ", " + b).orElse("");
    }
}
