package dev.winnow.cli;

import dev.winnow.gguf.GgufFile;
import dev.winnow.gguf.GgufTensorInfo;
import dev.winnow.gguf.GgufValue;
import dev.winnow.gguf.GgufWriter;
import dev.winnow.tensors.FloatTensor;
import dev.winnow.tensors.GgmlType;
import dev.winnow.tensors.Quantize;
import dev.winnow.tensors.WorkerPool;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code winnow quantize}: writes a GGUF file's matrices in another type. As llama.cpp does, 1-D tensors (norms,
 * biases) are kept as F32, and matrices whose rows are not a whole number of the type's blocks are written as F16;
 * a tensor already in the output type is copied as it is. The metadata is copied, with {@code general.file_type}
 * and {@code general.quantization_version} set for the new type. Tensors are encoded one at a time straight into
 * the output file, so files larger than memory work.
 */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = "Write a model's matrices as Q8_0, Q4_0, Q4_K or Q6_K (norms stay F32, rows that are not whole "
                + "blocks become F16).")
final class QuantizeCommand implements Callable<Integer> {
    /** The types offered, with the llama.cpp file type ({@code llama_ftype}) a file of mostly that type carries. */
    private static final Map<String, GgmlType> TYPES = Map.of("q8_0", GgmlType.Q8_0, "q4_0", GgmlType.Q4_0,
            "q4_k", GgmlType.Q4_K, "q6_k", GgmlType.Q6_K);
    private static final Map<GgmlType, Integer> FILE_TYPES = Map.of(GgmlType.Q8_0, 7, GgmlType.Q4_0, 2,
            GgmlType.Q4_K, 14, GgmlType.Q6_K, 18);
    static final String FILE_TYPE_KEY = "general.file_type";
    static final String QUANTIZATION_VERSION_KEY = "general.quantization_version";
    /** ggml's current quantization format version. */
    private static final int QUANTIZATION_VERSION = 2;

    @Spec
    CommandSpec spec;

    @Parameters(arity = "1..3", paramLabel = "[IN] OUT [TYPE]",
            description = "The GGUF model to read (unless -m names it), the GGUF file to write (replaced if it exists) "
                    + "and the type (unless --type names it), as llama-quantize takes them.")
    List<String> files;

    @Option(names = {"-m", "--model"}, paramLabel = "IN", description = "GGUF model to read.")
    Path modelOption;

    @Option(names = "--type", paramLabel = "TYPE", description = "q8_0, q4_0, q4_k or q6_k (or give it after OUT).")
    String typeOption;

    @Option(names = {"-t", "--threads"}, paramLabel = "N",
            description = "Threads encoding rows (default: the number of cores, ${DEFAULT-VALUE}).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Override
    public Integer call() throws Exception {
        List<String> rest = new ArrayList<>(files);
        Path input = modelOption != null ? modelOption : Path.of(rest.removeFirst());
        if (rest.isEmpty()) {
            throw usage("Missing the output file: winnow quantize IN OUT TYPE (or -m IN OUT TYPE)");
        }
        Path output = Path.of(rest.removeFirst());
        if (!rest.isEmpty() && typeOption != null) {
            throw usage("give the type either after OUT or with --type, not both");
        }
        if (rest.isEmpty() && typeOption == null) {
            throw usage("Missing the type: winnow quantize IN OUT TYPE, with TYPE one of q8_0, q4_0, q4_k, q6_k");
        }
        String typeName = typeOption != null ? typeOption : rest.getFirst();
        GgmlType type = TYPES.get(typeName.toLowerCase(Locale.ROOT));
        if (type == null) {
            throw usage((typeOption != null ? "--type" : "TYPE") + " must be one of q8_0, q4_0, q4_k, q6_k, got '"
                    + typeName + "'");
        }
        ThreadCount.check(spec, threads);
        if (Files.exists(output) && Files.isSameFile(input, output)) {
            throw new UserInputException("the output file is the input file " + input + "; write to another file");
        }
        PrintWriter err = spec.commandLine().getErr();
        long start = System.nanoTime();
        List<String> fallbacks = new ArrayList<>();
        Set<Long> fallbackWidths = new TreeSet<>();
        int matrices = 0;
        try (GgufFile in = GgufFile.open(input); WorkerPool pool = new WorkerPool(threads)) {
            GgufWriter writer = new GgufWriter().putAll(in.metadata())
                    .put(FILE_TYPE_KEY, GgufValue.ofUInt32(FILE_TYPES.get(type)))
                    .put(QUANTIZATION_VERSION_KEY, GgufValue.ofUInt32(QUANTIZATION_VERSION));
            List<GgufTensorInfo> tensors = in.tensors();
            Progress progress = Progress.start(err, "quantize", tensors.size(), "tensors");
            for (int i = 0; i < tensors.size(); i++) {
                GgufTensorInfo tensor = tensors.get(i);
                GgmlType target = targetType(tensor, type);
                if (tensor.dimensions() >= 2) {
                    matrices++;
                    if (target != type) {
                        fallbacks.add(tensor.name());
                        fallbackWidths.add(tensor.shape()[0]);
                    }
                }
                int done = i + 1;
                writer.addTensor(tensor.name(), target, tensor.shape(), destination -> {
                    encode(in, tensor, target, destination, pool);
                    progress.update(done, tensor.name() + " " + tensor.type() + " -> " + target);
                });
            }
            writer.write(output);
            progress.finish("winnow: wrote %s (%,d bytes, from %,d) in %.1f s".formatted(output, Files.size(output),
                    Files.size(input), (System.nanoTime() - start) / 1e9));
        }
        if (!fallbacks.isEmpty()) {
            err.printf("winnow: warning: %d of %d matrices are written as F16, not %s: their rows (%s values) are not "
                            + "whole %s blocks of %d values (%s)%n", fallbacks.size(), matrices, type, joined(fallbackWidths),
                    type, type.blockSize(), TerminalText.line(String.join(", ", fallbacks)));
        }
        err.flush();
        return 0;
    }

    private static String joined(Set<Long> widths) {
        return widths.stream().map(String::valueOf).collect(Collectors.joining(", "));
    }

    /** F32 for vectors, F16 for matrices whose rows are not whole blocks of {@code type}, else {@code type}. */
    static GgmlType targetType(GgufTensorInfo tensor, GgmlType type) {
        if (tensor.dimensions() < 2) {
            return GgmlType.F32;
        }
        return tensor.shape()[0] % type.blockSize() == 0 ? type : GgmlType.F16;
    }

    /** Writes the tensor's rows in {@code target} into {@code destination}, rows split across the pool. */
    private static void encode(GgufFile in, GgufTensorInfo tensor, GgmlType target, MemorySegment destination,
                               WorkerPool pool) {
        MemorySegment source = in.tensorData(tensor);
        if (tensor.type() == target) {
            MemorySegment.copy(source, 0, destination, 0, destination.byteSize());
            return;
        }
        if (!tensor.type().computable()) {
            throw new UserInputException("tensor '" + tensor.name() + "' is of type " + tensor.type()
                    + ", which Winnow cannot read");
        }
        int cols = Math.toIntExact(tensor.shape()[0]);
        int rows = Math.toIntExact(tensor.elementCount() / Math.max(1, cols));
        FloatTensor rowsIn = FloatTensor.of(tensor.type(), source, rows, cols);
        long rowBytes = target.rowBytes(cols);
        pool.parallelFor(rows, (first, end) -> {
            float[] row = new float[cols];
            for (int r = first; r < end; r++) {
                rowsIn.dequantizeRow(r, row, 0);
                Quantize.quantize(target, row, 0, cols, destination, r * rowBytes);
            }
        });
    }

    private CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }
}
