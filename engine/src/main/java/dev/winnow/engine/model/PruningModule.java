package dev.winnow.engine.model;

import dev.winnow.gguf.GgufFile;
import dev.winnow.gguf.GgufMetadata;
import dev.winnow.gguf.GgufTensorInfo;
import dev.winnow.gguf.GgufValue;
import dev.winnow.tensors.FloatTensor;
import dev.winnow.tensors.GgmlType;

import java.util.Arrays;
import java.util.Optional;

/**
 * The learned pruning module of DCP (dcp.md section 1): per layer, two projections W_qi and W_ki (GGUF shape
 * [d, r]: r rows of d values) that read the attention-norm output, and a scalar bias beta. Token k survives
 * query j in a layer while dot(qi[j], ki[k]) / sqrt(r) + beta > 0.
 *
 * @param calibration what fraction of the pairs the module keeps with an offset added to every layer's bias,
 *                    measured on a sample of text ({@code perplexity --calibrate}), if it was measured
 */
public record PruningModule(int interactionDim, Layer[] layers, Optional<DcpCalibration> calibration) {
    public static final String INTERACTION_DIM_KEY = "winnow.dcp.interaction_dim";

    /** One layer's projections and bias. */
    public record Layer(FloatTensor queryProjection, FloatTensor keyProjection, float bias) {
    }

    public static String queryTensor(int layer) {
        return "blk." + layer + ".dcp_q.weight";
    }

    public static String keyTensor(int layer) {
        return "blk." + layer + ".dcp_k.weight";
    }

    public static String biasTensor(int layer) {
        return "blk." + layer + ".dcp_bias";
    }

    /** Whether a file carries a pruning module (its interaction dimension key or its first layer's tensors). */
    public static boolean present(GgufFile file) {
        return file.metadata().contains(INTERACTION_DIM_KEY) || file.tensor(queryTensor(0)).isPresent();
    }

    /**
     * Reads the module from {@code file} (the model itself, or an adapter laid over it) for a base model of
     * configuration {@code base}; every mismatch is a clear error naming the file's key or tensor.
     */
    public static PruningModule read(GgufFile file, LlamaConfig base) {
        String name = file.path().getFileName().toString();
        GgufMetadata metadata = file.metadata();
        int r = metadata.find(INTERACTION_DIM_KEY).map(GgufValue::asInt)
                .orElseThrow(() -> new ModelLoadException("%s: missing key %s".formatted(name, INTERACTION_DIM_KEY)));
        if (r < 1 || r > 4096) {
            throw new ModelLoadException("%s: %s is %d, expected 1 to 4096".formatted(name, INTERACTION_DIM_KEY, r));
        }
        metadata.find("winnow.dcp.embedding_length").map(GgufValue::asInt).filter(d -> d != base.dim()).ifPresent(d -> {
            throw new ModelLoadException("%s was made for a model of width %d; this model's is %d".formatted(name, d, base.dim()));
        });
        metadata.find("winnow.dcp.block_count").map(GgufValue::asInt).filter(n -> n != base.layers()).ifPresent(n -> {
            throw new ModelLoadException("%s was made for a model of %d layers; this model has %d".formatted(name, n, base.layers()));
        });
        if (file.tensor(queryTensor(base.layers())).isPresent()) {
            throw new ModelLoadException("%s has pruning tensors for more than this model's %d layers".formatted(name, base.layers()));
        }
        Layer[] layers = new Layer[base.layers()];
        for (int l = 0; l < layers.length; l++) {
            layers[l] = new Layer(projection(file, name, queryTensor(l), base.dim(), r),
                    projection(file, name, keyTensor(l), base.dim(), r), bias(file, name, l));
        }
        return new PruningModule(r, layers, DcpCalibration.read(metadata, name));
    }

    private static FloatTensor projection(GgufFile file, String fileName, String tensor, int dim, int r) {
        GgufTensorInfo info = file.tensor(tensor)
                .orElseThrow(() -> new ModelLoadException("%s: missing tensor %s".formatted(fileName, tensor)));
        if (!Arrays.equals(info.shape(), new long[] {dim, r})) {
            throw new ModelLoadException("%s: tensor %s has shape %s, expected [%d, %d] (model width, interaction dimension)"
                    .formatted(fileName, tensor, Arrays.toString(info.shape()), dim, r));
        }
        if (info.type() != GgmlType.F32 && info.type() != GgmlType.F16) {
            throw new ModelLoadException("%s: tensor %s has type %s; pruning projections are F32 or F16"
                    .formatted(fileName, tensor, info.type()));
        }
        return FloatTensor.of(info.type(), file.tensorData(info), r, dim);
    }

    private static float bias(GgufFile file, String fileName, int layer) {
        String tensor = biasTensor(layer);
        GgufTensorInfo info = file.tensor(tensor)
                .orElseThrow(() -> new ModelLoadException("%s: missing tensor %s".formatted(fileName, tensor)));
        if (info.type() != GgmlType.F32 || info.elementCount() != 1) {
            throw new ModelLoadException("%s: tensor %s must be one F32 value, got %s %s"
                    .formatted(fileName, tensor, info.type(), Arrays.toString(info.shape())));
        }
        float[] value = new float[1];
        FloatTensor.of(GgmlType.F32, file.tensorData(info), 1, 1).dequantizeRow(0, value, 0);
        return value[0];
    }

    /** The module of {@code file} if it has one. */
    public static Optional<PruningModule> find(GgufFile file, LlamaConfig base) {
        return present(file) ? Optional.of(read(file, base)) : Optional.empty();
    }
}
