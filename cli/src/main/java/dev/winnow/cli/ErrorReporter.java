package dev.winnow.cli;

import dev.winnow.engine.runtime.ContextFullException;
import dev.winnow.engine.kv.KvCacheFullException;
import dev.winnow.engine.model.ModelLoadException;
import dev.winnow.engine.tokenizer.TextFile;
import dev.winnow.engine.tokenizer.TokenizerException;
import dev.winnow.gguf.GgufFormatException;
import picocli.CommandLine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;

/**
 * The one place where every failure of every command, {@link Error}s included, becomes one clear line on stderr
 * (control characters escaped, its middle cut when very long) and a non-zero exit: 2 for a wrong command line,
 * 1 for everything else. The stack trace is shown only with {@code --debug}.
 */
final class ErrorReporter implements CommandLine.IExecutionExceptionHandler, CommandLine.IParameterExceptionHandler,
        CommandLine.IExecutionStrategy {
    static final int USAGE = 2;
    static final int FAILURE = 1;

    @Override
    public int handleParseException(CommandLine.ParameterException e, String[] args) {
        CommandLine cli = e.getCommandLine();
        cli.getErr().println("winnow: " + TerminalText.line(e.getMessage()));
        cli.getErr().println("Try '" + cli.getCommandSpec().qualifiedName() + " --help' for usage.");
        return USAGE;
    }

    /**
     * Runs the chosen command as picocli does, and reports the {@link Error}s that picocli lets through (it hands
     * only {@link Exception}s to {@link #handleExecutionException}).
     */
    @Override
    public int execute(CommandLine.ParseResult parseResult) {
        try {
            return new CommandLine.RunLast().execute(parseResult);
        } catch (Error e) {
            return report(e, parseResult.asCommandLineList().getLast(), parseResult);
        }
    }

    @Override
    public int handleExecutionException(Exception e, CommandLine cli, CommandLine.ParseResult parseResult) {
        if (e instanceof CommandLine.ParameterException pe) {
            return handleParseException(pe, parseResult.originalArgs().toArray(String[]::new));
        }
        return report(e, cli, parseResult);
    }

    private static int report(Throwable e, CommandLine cli, CommandLine.ParseResult parseResult) {
        cli.getErr().println("winnow: " + TerminalText.line(describe(e)));
        if (debugRequested(parseResult)) {
            e.printStackTrace(cli.getErr());
        }
        cli.getErr().flush();
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
            case TextFile.TextFileException t -> t.getMessage();
            case ContextFullException c -> c.getMessage();
            case KvCacheFullException k -> k.getMessage();
            case UserInputException u -> u.getMessage();
            case IOException io -> "I/O error: " + io.getMessage();
            case OutOfMemoryError oom -> "out of memory (" + oom.getMessage() + "); lower --ctx or --threads, or give the JVM more heap with JAVA_OPTS=-Xmx...";
            case StackOverflowError overflow -> "internal error: the stack overflowed (run with --debug for the stack trace)";
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
