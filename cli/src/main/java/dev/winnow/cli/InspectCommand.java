package dev.winnow.cli;

import dev.winnow.gguf.GgufArray;
import dev.winnow.gguf.GgufFile;
import dev.winnow.gguf.GgufTensorInfo;
import dev.winnow.gguf.GgufValue;
import dev.winnow.gguf.GgufValueType;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.lang.reflect.Array;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/**
 * {@code winnow inspect}: what a GGUF file holds. Everything read from the file is printed through
 * {@link TerminalText}, so keys, strings and tensor names cannot act on the terminal or flood it.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Print a GGUF file's metadata and its tensor table (name, type, shape, bytes).")
final class InspectCommand implements Callable<Integer> {
    private static final int SHOWN_ARRAY_ELEMENTS = 8;
    private static final int SHOWN_STRING_CHARS = 120;
    private static final int SHOWN_NAME_CHARS = 200;

    @Spec
    CommandSpec spec;

    @Parameters(arity = "0..1", paramLabel = "MODEL", description = "GGUF file (or give it with -m).")
    Path positionalModel;

    @Option(names = {"-m", "--model"}, paramLabel = "MODEL", description = "GGUF file, as every other command takes it.")
    Path optionModel;

    @Option(names = "--no-tensors", description = "Print only the metadata.")
    boolean noTensors;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if ((positionalModel == null) == (optionModel == null)) {
            throw new CommandLine.ParameterException(spec.commandLine(), positionalModel == null
                    ? "Missing the model: winnow inspect MODEL, or -m MODEL"
                    : "give the model either as MODEL or with -m, not both");
        }
        Path model = positionalModel != null ? positionalModel : optionModel;
        try (GgufFile file = GgufFile.open(model)) {
            out.printf("%s: GGUF v%d, %,d bytes, %d metadata keys, %d tensors, alignment %d%n", model.getFileName(),
                    file.version(), file.fileSize(), file.metadata().size(), file.tensors().size(), file.alignment());
            out.println();
            for (Map.Entry<String, GgufValue> e : file.metadata().asMap().entrySet()) {
                out.printf("  %-45s %-8s %s%n", TerminalText.head(e.getKey(), SHOWN_NAME_CHARS), e.getValue().type(),
                        show(e.getValue()));
            }
            if (!noTensors) {
                out.println();
                out.printf("  %-40s %-6s %-22s %14s%n", "tensor", "type", "shape", "bytes");
                long total = 0;
                for (GgufTensorInfo t : file.tensors()) {
                    out.printf("  %-40s %-6s %-22s %,14d%n", TerminalText.head(t.name(), SHOWN_NAME_CHARS), t.type(),
                            Arrays.toString(t.shape()), t.byteSize());
                    total += t.byteSize();
                }
                out.printf("  %-40s %-6s %-22s %,14d%n", "total", "", "", total);
            }
            out.flush();
        }
        return 0;
    }

    private static String show(GgufValue value) {
        if (value.type() != GgufValueType.ARRAY) {
            return element(value.type(), value.value());
        }
        GgufArray array = value.asArray();
        Object values = array.values();
        int shown = Math.min(array.size(), SHOWN_ARRAY_ELEMENTS);
        String head = java.util.stream.IntStream.range(0, shown)
                .mapToObj(i -> element(array.elementType(), Array.get(values, i)))
                .collect(Collectors.joining(", "));
        return "[%s x %d] [%s%s]".formatted(array.elementType(), array.size(), head, array.size() > shown ? ", ..." : "");
    }

    private static String element(GgufValueType type, Object element) {
        return switch (element) {
            case String s -> quote(s);
            case GgufArray nested -> "[%s x %d]".formatted(nested.elementType(), nested.size());
            case Byte b when type == GgufValueType.UINT8 -> Integer.toString(Byte.toUnsignedInt(b));
            case Short s when type == GgufValueType.UINT16 -> Integer.toString(Short.toUnsignedInt(s));
            case Integer i when type == GgufValueType.UINT32 -> Integer.toUnsignedString(i);
            case Long l when type == GgufValueType.UINT64 -> Long.toUnsignedString(l);
            default -> String.valueOf(element);
        };
    }

    /** A string in quotes, a quote or backslash in it escaped as well, so that where it ends is clear. */
    private static String quote(String s) {
        String head = TerminalText.prefix(s, SHOWN_STRING_CHARS).replace("\\", "\\\\").replace("\"", "\\\"");
        return '"' + TerminalText.escape(head) + '"' + TerminalText.lengthNote(s, SHOWN_STRING_CHARS);
    }
}
