package dev.winnow.engine.training;

import dev.winnow.engine.model.LlamaConfig;
import dev.winnow.gguf.GgufFile;
import dev.winnow.gguf.GgufMetadata;
import dev.winnow.gguf.GgufTensorInfo;
import dev.winnow.gguf.GgufValue;
import dev.winnow.gguf.GgufWriter;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tensors.WorkerPool;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A training run frozen between two steps, as a GGUF file: the run's configuration, the number of steps done,
 * the data's fingerprint and the base model's name as metadata; every parameter and AdamW's two moments as F32
 * tensors. Nothing else is needed to continue: the data of every later step follows from the seed and the step.
 */
public final class Checkpoint {
    private static final ValueLayout.OfFloat LITTLE_ENDIAN_FLOAT =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final String PREFIX = "winnow.train.";
    private static final String PARAMETERS = "train.parameters";
    private static final String MODULE_MOMENTS = "train.adam.module.";
    private static final String BASE_MOMENTS = "train.adam.base.";

    private Checkpoint() {
    }

    /** Writes the state of {@code trainer} (atomically: the file is complete or untouched). */
    public static void save(Trainer trainer, String baseModel, Path path) throws IOException {
        TrainingConfig c = trainer.config();
        GgufWriter w = new GgufWriter();
        w.putString("general.type", "winnow-training-checkpoint");
        w.putUInt32(PREFIX + "format", 1);
        w.putString(PREFIX + "base_model", baseModel);
        w.putInt64(PREFIX + "step", trainer.completedSteps());
        w.putInt64(PREFIX + "data_fingerprint", trainer.data().fingerprint());
        w.putString(PREFIX + "data", trainer.data().description());
        w.putFloat64(PREFIX + "gamma", c.gamma());
        w.putInt64(PREFIX + "steps", c.steps());
        w.putInt64(PREFIX + "seq_len", c.seqLen());
        w.putInt64(PREFIX + "batch", c.batch());
        w.putFloat64(PREFIX + "lr", c.learningRate());
        w.putFloat64(PREFIX + "module_lr", c.moduleLearningRate());
        w.putInt64(PREFIX + "warmup", c.warmupSteps());
        w.putString(PREFIX + "lr_decay", c.decay().toString());
        w.putString(PREFIX + "mode", c.mode().toString());
        w.putInt64(PREFIX + "rank", trainer.parameters().layout().rank());
        w.putFloat64(PREFIX + "alpha_max", c.alphaMax());
        w.putFloat64(PREFIX + "clip", c.clip());
        w.putFloat64(PREFIX + "weight_decay", c.weightDecay());
        w.putInt64(PREFIX + "seed", c.seed());
        add(w, PARAMETERS, trainer.parameters().values());
        w.putInt64(PREFIX + "updates", trainer.moduleOptimizer().updates());
        add(w, MODULE_MOMENTS + "m", trainer.moduleOptimizer().firstMoments());
        add(w, MODULE_MOMENTS + "v", trainer.moduleOptimizer().secondMoments());
        if (trainer.baseOptimizer() != null) {
            add(w, BASE_MOMENTS + "m", trainer.baseOptimizer().firstMoments());
            add(w, BASE_MOMENTS + "v", trainer.baseOptimizer().secondMoments());
        }
        w.write(path);
    }

    private static void add(GgufWriter w, String name, float[] values) {
        w.addTensor(name, GgmlType.F32, new long[] {values.length},
                (MemorySegment destination) -> MemorySegment.copy(values, 0, destination, LITTLE_ENDIAN_FLOAT, 0, values.length));
    }

    /** The configuration a checkpoint was made with. */
    public static TrainingConfig config(Path path) throws IOException {
        try (GgufFile file = GgufFile.open(path)) {
            return config(file.metadata(), path);
        }
    }

    private static TrainingConfig config(GgufMetadata m, Path path) {
        try {
            return new TrainingConfig(number(m, "gamma"), (int) m.require(PREFIX + "steps").asLong(),
                    (int) m.require(PREFIX + "seq_len").asLong(), (int) m.require(PREFIX + "batch").asLong(),
                    number(m, "lr"), number(m, "module_lr"), (int) m.require(PREFIX + "warmup").asLong(),
                    TrainingConfig.Decay.parse(m.require(PREFIX + "lr_decay").asString()),
                    TrainingConfig.Mode.parse(m.require(PREFIX + "mode").asString()),
                    (int) m.require(PREFIX + "rank").asLong(), number(m, "alpha_max"), number(m, "clip"),
                    number(m, "weight_decay"), m.require(PREFIX + "seed").asLong());
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("%s is not a Winnow training checkpoint: %s".formatted(path, e.getMessage()), e);
        }
    }

    private static double number(GgufMetadata m, String key) {
        return m.require(PREFIX + key).asDouble();
    }

    /**
     * Continues the run saved in {@code path} for a base model of configuration {@code base} (with a tied output
     * matrix or not) on {@code data}, which must be the data it was trained on.
     *
     * @throws IllegalArgumentException when the checkpoint does not fit the model or the data
     */
    public static Trainer resume(Path path, LlamaConfig base, boolean tiedOutput, TrainingData data, WorkerPool pool)
            throws IOException {
        try (GgufFile file = GgufFile.open(path)) {
            GgufMetadata m = file.metadata();
            TrainingConfig config = config(m, path);
            List<String> problems = new ArrayList<>();
            long fingerprint = m.require(PREFIX + "data_fingerprint").asLong();
            if (fingerprint != data.fingerprint()) {
                problems.add("it was trained on other data (%s), not %s".formatted(m.require(PREFIX + "data").asString(), data.description()));
            }
            ParameterLayout layout = new ParameterLayout(base, config.rank(), tiedOutput);
            float[] values = read(file, PARAMETERS, layout.size(), problems);
            int updates = (int) m.require(PREFIX + "updates").asLong();
            int moduleSize = layout.size() - layout.moduleStart();
            AdamW module = new AdamW(read(file, MODULE_MOMENTS + "m", moduleSize, problems),
                    read(file, MODULE_MOMENTS + "v", moduleSize, problems), updates);
            AdamW baseOptimizer = config.mode() != TrainingConfig.Mode.ALL ? null
                    : new AdamW(read(file, BASE_MOMENTS + "m", layout.moduleStart(), problems),
                            read(file, BASE_MOMENTS + "v", layout.moduleStart(), problems), updates);
            if (!problems.isEmpty()) {
                throw new IllegalArgumentException("cannot resume from %s: %s".formatted(path, String.join("; ", problems)));
            }
            int step = (int) m.require(PREFIX + "step").asLong();
            return new Trainer(config, new ModelParameters(layout, values), data, pool, baseOptimizer, module, step);
        }
    }

    private static float[] read(GgufFile file, String name, int expected, List<String> problems) {
        GgufTensorInfo info = file.tensor(name).orElse(null);
        if (info == null || info.type() != GgmlType.F32 || info.elementCount() != expected) {
            problems.add(info == null ? "tensor %s is missing".formatted(name)
                    : "tensor %s holds %d %s values, this model needs %d F32 (another base model?)"
                            .formatted(name, info.elementCount(), info.type(), expected));
            return new float[expected];
        }
        float[] values = new float[expected];
        MemorySegment.copy(file.tensorData(info), LITTLE_ENDIAN_FLOAT, 0, values, 0, expected);
        return values;
    }

    /** Metadata entries describing a finished run, for the trained model's file. */
    public static Map<String, GgufValue> runMetadata(TrainingConfig c, String baseModel, String data) {
        Map<String, GgufValue> extra = new LinkedHashMap<>();
        extra.put("winnow.dcp.base_model", GgufValue.ofString(baseModel));
        extra.put("winnow.dcp.gamma", GgufValue.ofFloat64(c.gamma()));
        extra.put("winnow.dcp.steps", GgufValue.ofUInt32(c.steps()));
        extra.put("winnow.dcp.mode", GgufValue.ofString(c.mode().toString()));
        extra.put("winnow.dcp.seq_len", GgufValue.ofUInt32(c.seqLen()));
        extra.put("winnow.dcp.learning_rate", GgufValue.ofFloat64(c.learningRate()));
        extra.put("winnow.dcp.module_learning_rate", GgufValue.ofFloat64(c.moduleLearningRate()));
        extra.put("winnow.dcp.lr_decay", GgufValue.ofString(c.decay().toString()));
        extra.put("winnow.dcp.data", GgufValue.ofString(data));
        return extra;
    }
}
