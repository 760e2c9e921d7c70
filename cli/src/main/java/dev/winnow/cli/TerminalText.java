package dev.winnow.cli;

/**
 * Text that came from a file or a user, made safe to print on a terminal: control characters (ESC, BEL, CR, ...)
 * and the bidirectional overrides are shown as escapes instead of acting on the terminal, and long text is cut
 * with a note of its full length.
 */
final class TerminalText {
    /** The longest error line printed, before its middle is cut. */
    static final int MAX_LINE = 400;
    /** Characters of a cut error line kept after the cut, so that its end ("at byte N") stays. */
    private static final int KEPT_TAIL = 100;

    private TerminalText() {
    }

    /** {@code text} with every control character written as an escape ({@code \n}, {@code \r}, {@code \t}, {@code \u001B}). */
    static String escape(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            out.append(escaped(text.charAt(i)));
        }
        return out.toString();
    }

    /** The character as it is printed: itself, or its escape. */
    private static String escaped(char c) {
        return switch (c) {
            case '\n' -> "\\n";
            case '\r' -> "\\r";
            case '\t' -> "\\t";
            default -> Character.isISOControl(c) || isBidiControl(c) ? "\\u%04X".formatted((int) c) : String.valueOf(c);
        };
    }

    /** The characters that reorder the text after them (the "Trojan Source" characters). */
    private static boolean isBidiControl(char c) {
        return c == '\u061C' || c == '\u200E' || c == '\u200F' || (c >= '\u202A' && c <= '\u202E')
                || (c >= '\u2066' && c <= '\u2069');
    }

    /** The first {@code max} characters of {@code text}, escaped, with a note of its length when it was cut. */
    static String head(String text, int max) {
        return escape(prefix(text, max)) + lengthNote(text, max);
    }

    /** At most the first {@code max} characters of {@code text}, not splitting a surrogate pair. */
    static String prefix(String text, int max) {
        return text.length() <= max ? text : text.substring(0, cutPoint(text, max));
    }

    /** "... (N characters)" when {@code text} is longer than {@code max}, else nothing. */
    static String lengthNote(String text, int max) {
        return text.length() <= max ? "" : "... (%,d characters)".formatted(text.length());
    }

    /** One line for stderr: escaped, and when longer than {@link #MAX_LINE}, its middle cut with a note. */
    static String line(String text) {
        String escaped = escape(text);
        if (escaped.length() <= MAX_LINE) {
            return escaped;
        }
        int headEnd = cutPoint(escaped, MAX_LINE - KEPT_TAIL);
        int tailStart = escaped.length() - KEPT_TAIL;
        if (Character.isLowSurrogate(escaped.charAt(tailStart))) {
            tailStart++;
        }
        return escaped.substring(0, headEnd) + " [... %,d of %,d characters cut ...] "
                .formatted(tailStart - headEnd, escaped.length()) + escaped.substring(tailStart);
    }

    /** {@code at}, or one less so that a surrogate pair is not split. */
    private static int cutPoint(String text, int at) {
        return Character.isHighSurrogate(text.charAt(at - 1)) ? at - 1 : at;
    }
}
