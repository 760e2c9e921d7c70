package dev.winnow.engine.model;

import dev.winnow.engine.model.Architecture.Feature;
import dev.winnow.gguf.GgufFile;
import dev.winnow.gguf.GgufTensorInfo;
import dev.winnow.tensors.FloatTensor;
import dev.winnow.tensors.GgmlType;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The tensors of a Llama-style model as zero-copy views into the mapped GGUF file. Norm weights and biases are
 * small and read on every token, so they are dequantized once into float arrays. A fused matrix (Phi-3's
 * {@code attn_qkv} and {@code ffn_up}) is split into views of its row ranges, so the forward pass sees the same
 * separate projections for every family.
 */
public record LlamaWeights(FloatTensor tokenEmbedding, Layer[] layers, Norm outputNorm, FloatTensor output,
                           boolean tiedOutput, FloatTensor positionEmbedding) {

    /** The weights of one transformer block: its attention, then its feed-forward block. */
    public record Layer(Attention attention, FeedForward feedForward) {
    }

    /** A norm's weights, and its bias when it is a LayerNorm (GPT-2); an RMSNorm has none (null). */
    public record Norm(float[] weight, float[] bias) {
    }

    /** A matrix applied to every token, and the bias added after it; null where the family has none. */
    public record Projection(FloatTensor weight, float[] bias) {
    }

    /**
     * @param headNorms the RMSNorm weights of each query and key head (Qwen3); null where the family has none
     */
    public record Attention(Norm norm, Projection query, Projection key, Projection value, Projection output,
                            HeadNorms headNorms) {
    }

    public record HeadNorms(float[] query, float[] key) {
    }

    /** @param gate the gate of SwiGLU; null in GPT-2's GELU block */
    public record FeedForward(Norm norm, Projection gate, Projection up, Projection down) {
    }

    /** Finds and shape-checks every tensor the configuration needs, telling {@code layersLoaded} after each layer. */
    public static LlamaWeights load(GgufFile file, LlamaConfig c, Model.LayerListener layersLoaded) {
        // Each layer has tensors of its own, so the file bounds the layer count before anything is sized by it.
        if (c.layers() > file.tensors().size()) {
            throw new ModelLoadException("block_count is %d, but the file holds only %d tensors, fewer than one per layer"
                    .formatted(c.layers(), file.tensors().size()));
        }
        FloatTensor embedding = matrix(file, "token_embd.weight", c.dim(), c.vocabularySize());
        Layer[] layers = new Layer[c.layers()];
        Architecture arch = c.architecture();
        boolean gpt2 = arch.has(Feature.GPT2_BLOCKS);
        for (int i = 0; i < c.layers(); i++) {
            String p = "blk." + i + ".";
            FloatTensor[] qkv = arch.has(Feature.FUSED_QKV)
                    ? split(file, p + "attn_qkv.weight", c.dim(), c.queryDim(), c.kvDim(), c.kvDim())
                    : new FloatTensor[] {matrix(file, p + "attn_q.weight", c.dim(), c.queryDim()),
                            matrix(file, p + "attn_k.weight", c.dim(), c.kvDim()),
                            matrix(file, p + "attn_v.weight", c.dim(), c.kvDim())};
            FloatTensor[] gateUp = arch.has(Feature.FUSED_GATE_UP)
                    ? split(file, p + "ffn_up.weight", c.dim(), c.ffnDim(), c.ffnDim())
                    : new FloatTensor[] {gpt2 ? null : matrix(file, p + "ffn_gate.weight", c.dim(), c.ffnDim()),
                            matrix(file, p + "ffn_up.weight", c.dim(), c.ffnDim())};
            float[][] qkvBias = !arch.has(Feature.QKV_BIAS) ? new float[3][]
                    : arch.has(Feature.FUSED_QKV) ? splitVector(vector(file, p + "attn_qkv.bias", c.queryDim() + 2 * c.kvDim()),
                            c.queryDim(), c.kvDim(), c.kvDim())
                    : new float[][] {vector(file, p + "attn_q.bias", c.queryDim()), vector(file, p + "attn_k.bias", c.kvDim()),
                            vector(file, p + "attn_v.bias", c.kvDim())};
            Attention attention = new Attention(norm(file, p + "attn_norm", c),
                    new Projection(qkv[0], qkvBias[0]), new Projection(qkv[1], qkvBias[1]), new Projection(qkv[2], qkvBias[2]),
                    new Projection(matrix(file, p + "attn_output.weight", c.queryDim(), c.dim()),
                            gpt2 ? vector(file, p + "attn_output.bias", c.dim()) : null),
                    arch.has(Feature.QK_NORM) ? new HeadNorms(vector(file, p + "attn_q_norm.weight", c.headDim()),
                            vector(file, p + "attn_k_norm.weight", c.headDim())) : null);
            FeedForward feedForward = new FeedForward(norm(file, p + "ffn_norm", c),
                    gateUp[0] == null ? null : new Projection(gateUp[0], null),
                    new Projection(gateUp[1], gpt2 ? vector(file, p + "ffn_up.bias", c.ffnDim()) : null),
                    new Projection(matrix(file, p + "ffn_down.weight", c.ffnDim(), c.dim()),
                            gpt2 ? vector(file, p + "ffn_down.bias", c.dim()) : null));
            layers[i] = new Layer(attention, feedForward);
            layersLoaded.layersReady(i + 1, c.layers());
        }
        boolean tied = file.tensor("output.weight").isEmpty();
        FloatTensor output = tied ? embedding : matrix(file, "output.weight", c.dim(), c.vocabularySize());
        FloatTensor positions = gpt2 ? matrix(file, "position_embd.weight", c.dim(), c.contextLength()) : null;
        return new LlamaWeights(embedding, layers, norm(file, "output_norm", c), output, tied, positions);
    }

    /** The norm {@code name.weight}, with {@code name.bias} when the family's norms are LayerNorms. */
    private static Norm norm(GgufFile file, String name, LlamaConfig c) {
        return new Norm(vector(file, name + ".weight", c.dim()),
                c.architecture().has(Feature.LAYER_NORM) ? vector(file, name + ".bias", c.dim()) : null);
    }

    /** A tensor of ggml shape [cols, rows]: {@code rows} rows of {@code cols} values. */
    static FloatTensor matrix(GgufFile file, String name, int cols, int rows) {
        GgufTensorInfo info = require(file, name, new long[] {cols, rows});
        if (!info.type().computable()) {
            throw new ModelLoadException("tensor %s has type %s, which Winnow cannot compute (supported: %s)"
                    .formatted(name, info.type(), Arrays.stream(GgmlType.values()).filter(GgmlType::computable)
                            .map(Enum::name).collect(Collectors.joining(", "))));
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
}
