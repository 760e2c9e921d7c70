package dev.winnow.cli;

import jdk.incubator.vector.FloatVector;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.FileOutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Properties;

/** The {@code winnow} command: one subcommand per job. */
@Command(name = "winnow",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Winnow: a pure-Java LLM inference engine for CPUs, with Dynamic Context Pruning.",
        subcommands = {
                GenerateCommand.class,
                ChatCommand.class,
                TokenizeCommand.class,
                InspectCommand.class,
                DcpInitCommand.class,
                QuantizeCommand.class,
                PullCommand.class,
                BenchCommand.class,
                ServeCommand.class,
                TrainPruningCommand.class,
                PerplexityCommand.class,
                CommandLine.HelpCommand.class
        })
public final class Main implements Runnable {

    @Option(names = "--debug", scope = CommandLine.ScopeType.INHERIT,
            description = "Show the stack trace of an error.")
    boolean debug;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "name a command (see --help)");
    }

    public static void main(String[] args) {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            System.err.println("winnow: the JVM was started without the Vector API; run it through bin/winnow, or pass "
                    + "--add-modules jdk.incubator.vector to java");
            System.exit(2);
        }
        System.exit(commandLine().execute(args));
    }

    /** The configured command line, shared by {@link #main} and the tests. */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(new PrintWriter(new OutputStreamWriter(new FileOutputStream(FileDescriptor.out), StandardCharsets.UTF_8), true));
        cli.setErr(new PrintWriter(new OutputStreamWriter(new FileOutputStream(FileDescriptor.err), StandardCharsets.UTF_8), true));
        // Every command lists --version (picocli's standard options): each must answer it, not just winnow itself.
        Version version = new Version();
        cli.getSubcommands().values().forEach(command -> command.getCommandSpec().versionProvider(version));
        ErrorReporter reporter = new ErrorReporter();
        cli.setExecutionStrategy(reporter);
        cli.setExecutionExceptionHandler(reporter);
        cli.setParameterExceptionHandler(reporter);
        return cli;
    }

    /** What a bug report needs: the build, the JDK, the vector width the kernels use and the cores they share. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            String v = Main.class.getPackage().getImplementationVersion();
            Properties git = new Properties();
            try (InputStream in = Main.class.getResourceAsStream("git.properties")) {
                if (in != null) {
                    git.load(in);
                }
            }
            String commit = git.getProperty("git.commit.id.abbrev", "unknown")
                    + (Boolean.parseBoolean(git.getProperty("git.dirty")) ? " (with uncommitted changes)" : "");
            return new String[] {"winnow " + (v == null ? "(development build)" : v) + ", commit " + commit,
                    "JDK " + Runtime.version() + " (" + System.getProperty("java.vendor") + "), " + System.getProperty("os.arch"),
                    "Vector API: " + FloatVector.SPECIES_PREFERRED.vectorBitSize() + "-bit vectors ("
                            + FloatVector.SPECIES_PREFERRED.length() + " floats)",
                    "threads: " + Runtime.getRuntime().availableProcessors() + " cores (the default of --threads)"};
        }
    }
}
