package dev.winnow.cli;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** The chat's commands: one table for reading them, completing them and listing them in /help. */
enum SlashCommand {
    HELP("", "list these commands"),
    RESET("", "forget the conversation"),
    STATS("", "context use, speed and the KV cache"),
    PRUNING("", "toggle the coloured view of which tokens each layer still holds"),
    SAVE("FILE", "write the conversation to FILE (JSON)"),
    LOAD("FILE", "replace the conversation with the one saved in FILE"),
    EXIT("", "leave the chat (also /quit, or Ctrl-D)"),
    QUIT("", null);

    private final String argument;
    /** What /help says; null for an alias /help does not list. */
    private final String help;

    SlashCommand(String argument, String help) {
        this.argument = argument;
        this.help = help;
    }

    /** A command and its argument ("" when it takes none). */
    record Use(SlashCommand command, String argument) {
    }

    String word() {
        return "/" + name().toLowerCase(Locale.ROOT);
    }

    /** Every command word, for completion. */
    static List<String> words() {
        return Arrays.stream(values()).map(SlashCommand::word).toList();
    }

    /**
     * The command a line gives, or null when the line is text for the model (it does not start with '/').
     *
     * @throws IllegalArgumentException for an unknown command or a wrong argument, with what to type instead
     */
    static Use parse(String line) {
        String text = line.strip();
        if (!text.startsWith("/")) {
            return null;
        }
        int space = text.indexOf(' ');
        String word = space < 0 ? text : text.substring(0, space);
        String argument = space < 0 ? "" : text.substring(space + 1).strip();
        for (SlashCommand command : values()) {
            if (command.word().equals(word)) {
                if (command.argument.isEmpty() && !argument.isEmpty()) {
                    throw new IllegalArgumentException(word + " takes no argument");
                }
                if (!command.argument.isEmpty() && argument.isEmpty()) {
                    throw new IllegalArgumentException(word + " needs a " + command.argument + ": " + word + " "
                            + command.argument);
                }
                return new Use(command, argument);
            }
        }
        throw new IllegalArgumentException("unknown command " + word + "; /help lists the commands");
    }

    /** The /help text, one command a line. */
    static String help() {
        StringBuilder text = new StringBuilder();
        for (SlashCommand command : values()) {
            if (command.help != null) {
                String usage = command.word() + (command.argument.isEmpty() ? "" : " " + command.argument);
                text.append(String.format(Locale.ROOT, "  %-14s %s%n", usage, command.help));
            }
        }
        text.append(String.format(Locale.ROOT, "  %-14s %s%n", "Ctrl-C", "stop the reply being written"));
        return text.toString();
    }
}
