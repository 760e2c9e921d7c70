package dev.winnow.engine.training;

import dev.winnow.engine.model.Architecture;
import dev.winnow.engine.model.LlamaWeights;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.model.ModelLoadException;
import dev.winnow.engine.model.PruningModule;
import dev.winnow.gguf.GgufMetadata;
import dev.winnow.gguf.GgufValue;
import dev.winnow.gguf.GgufWriter;
import dev.winnow.tensors.FloatTensor;
import dev.winnow.tensors.GgmlType;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The parameters of a model and its pruning module as float values in a {@link ParameterLayout}: copied
 * (dequantized) from a loaded model, trained in place, and written back as a GGUF model or adapter.
 */
public final class ModelParameters {
    /** Standard deviation of a new module's projections (dcp.md section 1). */
    public static final double INITIAL_STD = 0.02;
    /** A new module's bias: with it every token is kept at the start (dcp.md section 1). */
    public static final float INITIAL_BIAS = 2.0f;
    private static final ValueLayout.OfFloat LITTLE_ENDIAN_FLOAT =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final ParameterLayout layout;
    private final float[] values;

    public ModelParameters(ParameterLayout layout, float[] values) {
        if (values.length != layout.size()) {
            throw new IllegalArgumentException("%d parameter values for a layout of %d".formatted(values.length, layout.size()));
        }
        this.layout = layout;
        this.values = values;
    }

    /**
     * The weights of {@code model} as floats, with its pruning module if it has one (whose interaction dimension
     * then wins over {@code rank}), else a new module: projections from N(0, 0.02^2) drawn with {@code seed},
     * biases 2.0.
     */
    public static ModelParameters fromModel(Model model, int rank, long seed) {
        if (model.config().architecture() != Architecture.LLAMA) {
            throw new ModelLoadException("training runs on the llama architecture only; this model is '%s'"
                    .formatted(model.config().architecture().name()));
        }
        PruningModule existing = model.pruningModule().orElse(null);
        LlamaWeights w = model.llama().weights();
        ParameterLayout layout = new ParameterLayout(model.config(), existing != null ? existing.interactionDim() : rank,
                w.tiedOutput());
        float[] values = new float[layout.size()];
        copy(w.tokenEmbedding(), values, layout.tokenEmbedding());
        for (int l = 0; l < layout.config().layers(); l++) {
            LlamaWeights.Layer from = w.layers()[l];
            ParameterLayout.Layer to = layout.layer(l);
            LlamaWeights.Attention attention = from.attention();
            LlamaWeights.FeedForward feedForward = from.feedForward();
            System.arraycopy(attention.norm().weight(), 0, values, to.attentionNorm(), attention.norm().weight().length);
            copy(attention.query().weight(), values, to.wq());
            copy(attention.key().weight(), values, to.wk());
            copy(attention.value().weight(), values, to.wv());
            copy(attention.output().weight(), values, to.wo());
            System.arraycopy(feedForward.norm().weight(), 0, values, to.ffnNorm(), feedForward.norm().weight().length);
            copy(feedForward.gate().weight(), values, to.gate());
            copy(feedForward.up().weight(), values, to.up());
            copy(feedForward.down().weight(), values, to.down());
        }
        System.arraycopy(w.outputNorm().weight(), 0, values, layout.outputNorm(), w.outputNorm().weight().length);
        if (!w.tiedOutput()) {
            copy(w.output(), values, layout.output());
        }
        SplittableRandom random = new SplittableRandom(seed);
        for (int l = 0; l < layout.config().layers(); l++) {
            ParameterLayout.Layer to = layout.layer(l);
            if (existing != null) {
                PruningModule.Layer m = existing.layers()[l];
                copy(m.queryProjection(), values, to.interactionQuery());
                copy(m.keyProjection(), values, to.interactionKey());
                values[to.bias()] = m.bias();
            } else {
                int n = layout.rank() * layout.config().dim();
                for (int i = 0; i < n; i++) {
                    values[to.interactionQuery() + i] = (float) (random.nextGaussian() * INITIAL_STD);
                }
                for (int i = 0; i < n; i++) {
                    values[to.interactionKey() + i] = (float) (random.nextGaussian() * INITIAL_STD);
                }
                values[to.bias()] = INITIAL_BIAS;
            }
        }
        return new ModelParameters(layout, values);
    }

    private static void copy(FloatTensor tensor, float[] values, int offset) {
        for (int row = 0; row < tensor.rows(); row++) {
            tensor.dequantizeRow(row, values, offset + row * tensor.cols());
        }
    }

    public ParameterLayout layout() {
        return layout;
    }

    /** The values themselves (not a copy). */
    public float[] values() {
        return values;
    }

    /**
     * Writes a complete model: the base file's metadata (its file type set to all-F32), then {@code extra},
     * then every tensor as F32, the pruning module included.
     */
    public void writeModel(Path path, GgufMetadata baseMetadata, Map<String, GgufValue> extra) throws IOException {
        GgufWriter writer = new GgufWriter();
        writer.putAll(baseMetadata);
        if (baseMetadata.contains("general.file_type")) {
            writer.putUInt32("general.file_type", 0);
        }
        write(writer, extra, false, path);
    }

    /** Writes the pruning module alone, as an adapter for {@code --prune-adapter} (as dcp-init does). */
    public void writeAdapter(Path path, Map<String, GgufValue> extra) throws IOException {
        GgufWriter writer = new GgufWriter();
        writer.putString("general.type", "adapter");
        write(writer, extra, true, path);
    }

    private void write(GgufWriter writer, Map<String, GgufValue> extra, boolean moduleOnly, Path path) throws IOException {
        writer.put(PruningModule.INTERACTION_DIM_KEY, GgufValue.ofUInt32(layout.rank()));
        writer.put("winnow.dcp.embedding_length", GgufValue.ofUInt32(layout.config().dim()));
        writer.put("winnow.dcp.block_count", GgufValue.ofUInt32(layout.config().layers()));
        extra.forEach(writer::put);
        for (ParameterLayout.Tensor t : layout.tensors()) {
            if (moduleOnly && t.group() != ParameterLayout.Group.MODULE) {
                continue;
            }
            writer.addTensor(t.name(), GgmlType.F32, t.shape(), (MemorySegment destination) ->
                    MemorySegment.copy(values, t.offset(), destination, LITTLE_ENDIAN_FLOAT, 0, t.size()));
        }
        writer.write(path);
    }
}
