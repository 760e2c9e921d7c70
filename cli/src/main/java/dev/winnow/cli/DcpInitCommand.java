package dev.winnow.cli;

import dev.winnow.engine.model.LlamaConfig;
import dev.winnow.engine.model.PruningModule;
import dev.winnow.engine.tokenizer.Vocabulary;
import dev.winnow.gguf.GgufFile;
import dev.winnow.gguf.GgufValue;
import dev.winnow.gguf.GgufWriter;
import dev.winnow.tensors.GgmlType;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * {@code winnow dcp-init}: a randomly initialised DCP pruning module for a base model, as a GGUF adapter
 * (dcp.md section 1: projections drawn from N(0, std^2), one bias per layer). With a large positive bias it
 * keeps everything; lower biases prune, so it serves to try and test pruning before a module is trained.
 */
@Command(name = "dcp-init", mixinStandardHelpOptions = true,
        description = "Write a random DCP pruning module (an adapter GGUF) for a base model.")
final class DcpInitCommand implements Callable<Integer> {
    private static final ValueLayout.OfFloat LITTLE_ENDIAN_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Spec
    CommandSpec spec;

    @Mixin
    ModelFile modelFile;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "ADAPTER", description = "Where to write the adapter.")
    Path output;

    @Option(names = "--bias", paramLabel = "B", description = "The bias beta of every layer (default: ${DEFAULT-VALUE}, keeps all).")
    float bias = 2.0f;

    @Option(names = "--rank", paramLabel = "R", description = "Interaction dimension r (default: ${DEFAULT-VALUE}).")
    int rank = 64;

    @Option(names = "--std", paramLabel = "S", description = "Standard deviation of the projections (default: ${DEFAULT-VALUE}).")
    float std = 0.02f;

    @Option(names = "--seed", paramLabel = "S", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed = 42;

    @Override
    public Integer call() throws Exception {
        Path model = modelFile.path(spec.commandLine().getErr());
        if (rank < 1 || rank > 4096) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--rank must be 1 to 4096, got " + rank);
        }
        if (!(std >= 0) || !Float.isFinite(bias)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--std must be non-negative and --bias finite");
        }
        LlamaConfig config;
        try (GgufFile base = GgufFile.open(model)) {
            config = LlamaConfig.fromMetadata(base.metadata(), Vocabulary.fromGguf(base.metadata()).tokens().length);
        }
        SplittableRandom random = new SplittableRandom(seed);
        GgufWriter writer = new GgufWriter();
        writer.putString("general.type", "adapter");
        writer.putString("general.name", "random DCP module for " + model.getFileName());
        writer.put(PruningModule.INTERACTION_DIM_KEY, GgufValue.ofUInt32(rank));
        writer.put("winnow.dcp.embedding_length", GgufValue.ofUInt32(config.dim()));
        writer.put("winnow.dcp.block_count", GgufValue.ofUInt32(config.layers()));
        writer.putString("winnow.dcp.base_model", model.getFileName().toString());
        writer.putString("winnow.dcp.init", "random: std %s, bias %s, seed %d".formatted(std, bias, seed));
        try (Arena arena = Arena.ofConfined()) {
            for (int l = 0; l < config.layers(); l++) {
                writer.addTensor(PruningModule.queryTensor(l), GgmlType.F32, new long[] {config.dim(), rank},
                        gaussian(arena, random, config.dim() * rank));
                writer.addTensor(PruningModule.keyTensor(l), GgmlType.F32, new long[] {config.dim(), rank},
                        gaussian(arena, random, config.dim() * rank));
                writer.addTensor(PruningModule.biasTensor(l), GgmlType.F32, new long[] {1},
                        arena.allocateFrom(LITTLE_ENDIAN_FLOAT, bias));
            }
            writer.write(output);
        }
        spec.commandLine().getErr().printf("winnow: wrote a random pruning module (r = %d, bias %s, %d layers) to %s%n",
                rank, bias, config.layers(), output);
        return 0;
    }

    private MemorySegment gaussian(Arena arena, SplittableRandom random, int n) {
        MemorySegment data = arena.allocate((long) n * Float.BYTES);
        for (int i = 0; i < n; i++) {
            data.setAtIndex(LITTLE_ENDIAN_FLOAT, i, (float) (random.nextGaussian() * std));
        }
        return data;
    }
}
