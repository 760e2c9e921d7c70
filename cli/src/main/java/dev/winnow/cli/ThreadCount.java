package dev.winnow.cli;

import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/**
 * The bounds of {@code --threads}: at least one, and at most a few per core. More threads than that only slow the
 * work down, and tens of thousands exhaust the operating system's threads before anything runs.
 */
final class ThreadCount {
    static final int MAX_PER_CORE = 8;

    private ThreadCount() {
    }

    /** Refuses, as a wrong command line, a thread count outside 1 to {@link #MAX_PER_CORE} per core. */
    static void check(CommandSpec spec, int threads) {
        int cores = Runtime.getRuntime().availableProcessors();
        int max = cores * MAX_PER_CORE;
        if (threads < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--threads must be at least 1, got " + threads);
        }
        if (threads > max) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--threads must be at most %d (%d per core on this machine's %d cores), got %d"
                            .formatted(max, MAX_PER_CORE, cores, threads));
        }
    }
}
