package dev.winnow.engine.chat;

import java.util.List;

/** Small text helpers shared by the templates. */
final class TemplateText {
    private TemplateText() {
    }

    /** Jinja's {@code trim} / Python's {@code str.strip()}: whitespace as Python counts it, on both ends. */
    static String strip(String text) {
        int start = 0;
        int end = text.length();
        while (start < end && isPythonSpace(text.charAt(start))) {
            start++;
        }
        while (end > start && isPythonSpace(text.charAt(end - 1))) {
            end--;
        }
        return text.substring(start, end);
    }

    private static boolean isPythonSpace(char c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085';
    }

    static String require(String text, String what) {
        if (text == null) {
            throw new IllegalArgumentException("the " + what + " is missing");
        }
        return text;
    }

    static List<ChatMessage> requireMessages(List<ChatMessage> messages) {
        if (messages == null) {
            throw new IllegalArgumentException("the conversation is missing");
        }
        for (int i = 0; i < messages.size(); i++) {
            if (messages.get(i) == null) {
                throw new IllegalArgumentException("message " + i + " of the conversation is missing");
            }
        }
        return messages;
    }

    /** The system message that opens a conversation, or null. */
    static String leadingSystem(List<ChatMessage> messages) {
        return !messages.isEmpty() && messages.getFirst().role().equals(ChatMessage.SYSTEM)
                ? messages.getFirst().content() : null;
    }

    /**
     * The messages after an optional leading system message, checked to alternate user, assistant, user, ...
     *
     * @throws IllegalArgumentException naming the first message out of turn
     */
    static List<ChatMessage> alternatingTurns(List<ChatMessage> messages, String format) {
        requireMessages(messages);
        int first = leadingSystem(messages) == null ? 0 : 1;
        List<ChatMessage> turns = messages.subList(first, messages.size());
        for (int i = 0; i < turns.size(); i++) {
            String expected = i % 2 == 0 ? ChatMessage.USER : ChatMessage.ASSISTANT;
            if (!turns.get(i).role().equals(expected)) {
                throw new IllegalArgumentException(format + " conversations alternate user/assistant after an optional "
                        + "system message, but message " + (first + i) + " is '" + turns.get(i).role() + "'");
            }
        }
        return turns;
    }
}
