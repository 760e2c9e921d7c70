package dev.winnow.cli;

import dev.winnow.engine.kv.KvBudget;
import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.tensors.GgmlType;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.util.Locale;

/** How the KV cache is laid out and how much memory it may take. */
final class KvOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = "--kv-page-size", paramLabel = "N",
            description = "Token slots per KV page, 1 to 64 (default: ${DEFAULT-VALUE}).")
    int pageSize = KvCacheConfig.DEFAULT_PAGE_SIZE;

    @Option(names = "--kv-budget", paramLabel = "SIZE",
            description = "Memory for the KV pages: a token count (room for that many tokens in every layer) or a size "
                    + "with a unit such as 256MiB (default: enough for the context).")
    String budget;

    @Option(names = "--kv-type", paramLabel = "TYPE",
            description = "Storage type of cached keys and values: f32, f16 or q8_0 (default: ${DEFAULT-VALUE}).")
    String type = "f16";


    /** The cache layout these options name; a malformed or out-of-range value is a usage error (exit 2). */
    KvCacheConfig config() {
        GgmlType storage = switch (type.toLowerCase(Locale.ROOT)) {
            case "f32" -> GgmlType.F32;
            case "f16" -> GgmlType.F16;
            case "q8_0" -> GgmlType.Q8_0;
            default -> throw new CommandLine.ParameterException(spec.commandLine(),
                    "--kv-type must be f32, f16 or q8_0, got '%s'".formatted(type));
        };
        try {
            return new KvCacheConfig(pageSize, storage, budget == null ? null : KvBudget.parse(budget));
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
    }
}
