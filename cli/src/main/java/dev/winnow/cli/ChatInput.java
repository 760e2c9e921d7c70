package dev.winnow.cli;

import org.jline.reader.EndOfFileException;
import org.jline.reader.LineReader;
import org.jline.reader.LineReaderBuilder;
import org.jline.reader.UserInterruptException;
import org.jline.reader.impl.completer.StringsCompleter;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;
import org.jline.terminal.impl.ExternalTerminal;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Where chat reads its lines. On a terminal: JLine's line editor (arrows, history, Ctrl-R, Tab completion of the
 * slash commands), where Ctrl-C clears the line being typed, Ctrl-D on an empty line ends the chat, and Ctrl-C
 * while a reply is being written stops that reply only. From a pipe or a file: plain lines, nothing echoed.
 */
interface ChatInput extends AutoCloseable {

    /** The next line, or null at the end of the input (Ctrl-D, the end of a pipe). */
    String readLine(String prompt) throws IOException;

    /**
     * Runs {@code reply}; a Ctrl-C meanwhile calls {@code onInterrupt} (which should make the reply stop) instead
     * of ending the program.
     */
    void replying(Runnable onInterrupt, Runnable reply);

    @Override
    void close() throws IOException;

    /** JLine's editor when stdin and stdout are a terminal, else plain lines from stdin. */
    static ChatInput open(PrintWriter out, List<String> commands) throws IOException {
        if (System.console() != null && System.console().isTerminal()) {
            Terminal terminal = TerminalBuilder.builder().system(true).build();
            return new Editor(terminal, commands);
        }
        return new Plain(System.in, out);
    }

    /** The editor over given streams: how the tests drive it, as a terminal would. */
    static ChatInput editor(InputStream in, OutputStream out, List<String> commands) throws IOException {
        return new Editor(new ExternalTerminal("chat", "xterm", in, out, StandardCharsets.UTF_8), commands);
    }

    /** JLine's line editor on a terminal. */
    final class Editor implements ChatInput {
        private final Terminal terminal;
        private final LineReader reader;

        Editor(Terminal terminal, List<String> commands) {
            this.terminal = terminal;
            this.reader = LineReaderBuilder.builder().terminal(terminal).appName("winnow")
                    .completer(new StringsCompleter(commands))
                    .build();
        }

        @Override
        public String readLine(String prompt) {
            while (true) {
                try {
                    return reader.readLine(prompt);
                } catch (UserInterruptException e) {
                    // Ctrl-C at the prompt throws away what was typed, as a shell does; the chat goes on.
                } catch (EndOfFileException e) {
                    return null;
                }
            }
        }

        @Override
        public void replying(Runnable onInterrupt, Runnable reply) {
            Terminal.SignalHandler previous = terminal.handle(Terminal.Signal.INT, signal -> onInterrupt.run());
            try {
                reply.run();
            } finally {
                terminal.handle(Terminal.Signal.INT, previous);
            }
        }

        @Override
        public void close() throws IOException {
            terminal.close();
        }
    }

    /** Plain lines from a pipe or file; the prompt is printed so a transcript reads as a conversation. */
    final class Plain implements ChatInput {
        private final BufferedReader in;
        private final PrintWriter out;

        Plain(InputStream in, PrintWriter out) {
            this.in = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            this.out = out;
        }

        @Override
        public String readLine(String prompt) throws IOException {
            out.print(prompt);
            out.flush();
            return in.readLine();
        }

        @Override
        public void replying(Runnable onInterrupt, Runnable reply) {
            reply.run();
        }

        @Override
        public void close() {
        }
    }
}
