package dev.winnow.cli;

import dev.winnow.engine.runtime.ContextFullException;
import dev.winnow.engine.kv.KvCacheFullException;
import dev.winnow.engine.model.ModelLoadException;
import dev.winnow.engine.tokenizer.TokenizerException;
import dev.winnow.gguf.GgufFormatException;
import picocli.CommandLine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;

/**
 * Turns every failure into one clear line on stderr and a non-zero exit: 2 for a wrong command line,
 * 1 for everything else. The stack trace is shown only with {@code --debug}.
 */
final class ErrorReporter implements CommandLine.IExecutionExceptionHandler, CommandLine.IParameterExceptionHandler {
    static final int USAGE = 2;
    static final int FAILURE = 1;

    @Override
    public int handleParseException(CommandLine.ParameterException e, String[] args) {
        CommandLine cli = e.getCommandLine();
        cli.getErr().println("winnow: " + e.getMessage());
        cli.getErr().println("Try '" + cli.getCommandSpec().qualifiedName() + " --help' for usage.");
        return USAGE;
    }

    @Override
    public int handleExecutionException(Exception e, CommandLine cli, CommandLine.ParseResult parseResult) {
        if (e instanceof CommandLine.ParameterException pe) {
            return handleParseException(pe, parseResult.originalArgs().toArray(String[]::new));
        }
        cli.getErr().println("winnow: " + describe(e));
        if (debugRequested(parseResult)) {
            e.printStackTrace(cli.getErr());
        }
        return FAILURE;
    }

    static String describe(Throwable e) {
        Throwable cause = e instanceof UncheckedIOException u ? u.getCause() : e;
        return switch (cause) {
            case NoSuchFileException n -> "file not found: " + n.getFile();
            case AccessDeniedException a -> "permission denied: " + a.getFile();
            case GgufFormatException g -> "malformed GGUF file: " + g.getMessage();
            case ModelLoadException m -> "cannot run this model: " + m.getMessage();
            case TokenizerException t -> "cannot use this model's tokenizer: " + t.getMessage();
            case ContextFullException c -> c.getMessage();
            case KvCacheFullException k -> k.getMessage();
            case UserInputException u -> u.getMessage();
            case IOException io -> "I/O error: " + io.getMessage();
            case OutOfMemoryError oom -> "out of memory (" + oom.getMessage() + "); lower --ctx or give the JVM more heap with JAVA_OPTS=-Xmx...";
            default -> "internal error: " + cause + " (run with --debug for the stack trace)";
        };
    }

    private static boolean debugRequested(CommandLine.ParseResult parseResult) {
        for (CommandLine.ParseResult r = parseResult; r != null; r = r.subcommand()) {
            if (r.hasMatchedOption("--debug")) {
                return true;
            }
        }
        return false;
    }
}
