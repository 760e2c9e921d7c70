package dev.winnow.engine.training;

import dev.winnow.engine.model.LlamaConfig;
import dev.winnow.engine.model.PruningModule;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Where every tensor of a Llama model and its DCP module lives in one flat float array (as llm.c keeps its
 * parameters): the base tensors first, in GGUF order, then the module (per layer W_qi, W_ki, beta), so the
 * parameters trained in module mode are the one contiguous range [{@link #moduleStart()}, {@link #size()}).
 * Matrices are row-major, {@code out x in} (ggml shape [in, out]). A tied output matrix is the embedding itself.
 */
public final class ParameterLayout {

    /** Which part of the model a tensor belongs to. */
    public enum Group { BASE, MODULE }

    /**
     * One tensor: its GGUF name, offset and size in the flat array, and its GGUF shape.
     *
     * @param rows rows of the row-major matrix (1 for a vector)
     * @param cols values per row
     */
    public record Tensor(String name, int offset, int rows, int cols, long[] shape, Group group) {
        public int size() {
            return rows * cols;
        }
    }

    /** Offsets of one layer's tensors. */
    public record Layer(int attentionNorm, int wq, int wk, int wv, int wo, int ffnNorm, int gate, int up, int down,
                        int interactionQuery, int interactionKey, int bias) {
    }

    private final LlamaConfig config;
    private final int rank;
    private final boolean tied;
    private final List<Tensor> tensors = new ArrayList<>();
    private final Layer[] layers;
    private final int tokenEmbedding;
    private final int outputNorm;
    private final int output;
    private final int moduleStart;
    private long next;

    /**
     * @param rank the interaction dimension r of the pruning module
     * @param tied whether the output matrix is the token embedding
     * @throws IllegalArgumentException if the model has more parameters than one Java array holds
     */
    public ParameterLayout(LlamaConfig config, int rank, boolean tied) {
        if (rank < 1 || rank > 4096) {
            throw new IllegalArgumentException("the interaction dimension must be 1 to 4096, got " + rank);
        }
        this.config = config;
        this.rank = rank;
        this.tied = tied;
        int d = config.dim();
        tokenEmbedding = add("token_embd.weight", config.vocabularySize(), d, Group.BASE);
        int[][] base = new int[config.layers()][];
        for (int l = 0; l < config.layers(); l++) {
            String p = "blk." + l + ".";
            base[l] = new int[] {
                    add(p + "attn_norm.weight", 1, d, Group.BASE),
                    add(p + "attn_q.weight", config.queryDim(), d, Group.BASE),
                    add(p + "attn_k.weight", config.kvDim(), d, Group.BASE),
                    add(p + "attn_v.weight", config.kvDim(), d, Group.BASE),
                    add(p + "attn_output.weight", d, config.queryDim(), Group.BASE),
                    add(p + "ffn_norm.weight", 1, d, Group.BASE),
                    add(p + "ffn_gate.weight", config.ffnDim(), d, Group.BASE),
                    add(p + "ffn_up.weight", config.ffnDim(), d, Group.BASE),
                    add(p + "ffn_down.weight", d, config.ffnDim(), Group.BASE)};
        }
        outputNorm = add("output_norm.weight", 1, d, Group.BASE);
        output = tied ? tokenEmbedding : add("output.weight", config.vocabularySize(), d, Group.BASE);
        moduleStart = (int) next;
        layers = new Layer[config.layers()];
        for (int l = 0; l < config.layers(); l++) {
            int q = add(PruningModule.queryTensor(l), rank, d, Group.MODULE);
            int k = add(PruningModule.keyTensor(l), rank, d, Group.MODULE);
            int b = add(PruningModule.biasTensor(l), 1, 1, Group.MODULE);
            int[] o = base[l];
            layers[l] = new Layer(o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7], o[8], q, k, b);
        }
    }

    private int add(String name, int rows, int cols, Group group) {
        long offset = next;
        next += (long) rows * cols;
        if (next > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("the model has more than %,d parameters, more than Winnow's trainer holds in one array"
                    .formatted(Integer.MAX_VALUE - 8));
        }
        long[] shape = rows == 1 ? new long[] {cols} : new long[] {cols, rows};
        tensors.add(new Tensor(name, (int) offset, rows, cols, shape, group));
        return (int) offset;
    }

    public LlamaConfig config() {
        return config;
    }

    public int rank() {
        return rank;
    }

    public boolean tied() {
        return tied;
    }

    /** Every tensor, base then module, in the order of the array (a tied output matrix is not listed twice). */
    public List<Tensor> tensors() {
        return Collections.unmodifiableList(tensors);
    }

    public Layer layer(int l) {
        return layers[l];
    }

    public int tokenEmbedding() {
        return tokenEmbedding;
    }

    public int outputNorm() {
        return outputNorm;
    }

    public int output() {
        return output;
    }

    /** The first parameter of the pruning module. */
    public int moduleStart() {
        return moduleStart;
    }

    /** The number of parameters. */
    public int size() {
        return (int) next;
    }
}
