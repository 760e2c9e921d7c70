package dev.winnow.cli;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.StringLength;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Whatever a file holds, what is printed of it cannot act on a terminal, and its length is bounded. */
class TerminalTextProperties {

    @Property(tries = 500)
    void escapedTextHoldsNoControlCharacter(@ForAll String text) {
        String escaped = TerminalText.escape(text);
        escaped.chars().forEach(c -> assertFalse(Character.isISOControl(c) || c == '\u202E' || c == '\u2066',
                "U+%04X in %s".formatted(c, escaped)));
    }

    @Property(tries = 500)
    void textWithoutControlCharactersIsLeftAsItIs(@ForAll String text) {
        String plain = text.codePoints().filter(c -> !Character.isISOControl(c) && c != 0x061C && (c < 0x2000 || c > 0x2FFF))
                .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString();
        assertEquals(plain, TerminalText.escape(plain));
    }

    @Property(tries = 300)
    void anErrorLineIsBoundedAndKeepsItsEnd(@ForAll @StringLength(max = 5000) String text) {
        String line = TerminalText.line(text + " at byte 42");
        assertTrue(line.length() <= TerminalText.MAX_LINE + 60, line.length() + " characters");
        assertTrue(line.endsWith(" at byte 42"), line);
        assertFalse(line.contains("\n"), line);
    }

    @Property(tries = 300)
    void aHeadNotesTheFullLengthWhenItCuts(@ForAll @StringLength(max = 400) String text,
                                           @ForAll @IntRange(min = 1, max = 300) int max) {
        String head = TerminalText.head(text, max);
        assertEquals(text.length() > max, head.endsWith("... (%,d characters)".formatted(text.length())), head);
    }
}
