package dev.winnow.tests.serve;

import dev.winnow.engine.serve.StopMatcher;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.From;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Stop strings on streamed text: generation stops after the first piece that completes a stop string, and the
 * text ends before the earliest stop string in what has arrived (all of it when none occurs); at every moment
 * only the end that could still be the start of a stop string is held back. A three-letter alphabet makes
 * matches and near misses frequent.
 */
class StopMatcherPropertiesTest {

    @Property(tries = 1500)
    void releasesTheTextUpToTheFirstStopHowEverItIsCut(@ForAll("texts") String text,
                                                        @ForAll @Size(min = 1, max = 3) List<@From("stops") String> stops,
                                                        @ForAll @Size(max = 30) List<@IntRange(min = 1, max = 5) Integer> cuts) {
        StopMatcher matcher = new StopMatcher(stops);
        StringBuilder released = new StringBuilder();
        int at = 0;
        int cut = 0;
        String expected = text;
        while (at < text.length() && !matcher.stopped()) {
            int length = cut < cuts.size() ? cuts.get(cut++) : text.length();
            int end = Math.min(text.length(), at + length);
            released.append(matcher.accept(text.substring(at, end)));
            at = end;
            String seen = text.substring(0, at);
            int first = firstStop(seen, stops);
            assertEquals(first >= 0, matcher.stopped(), "after '%s'".formatted(seen));
            if (first >= 0) {
                expected = seen.substring(0, first);
            } else {
                assertEquals(seen.length() - partialStop(seen, stops), released.length(),
                        "after '%s' only the possible start of a stop is held back".formatted(seen));
            }
        }
        if (!matcher.stopped()) {
            released.append(matcher.flush());
        }
        assertEquals(expected, released.toString());
    }

    @Test
    void withoutStopsEverythingIsReleasedAtOnce() {
        StopMatcher matcher = new StopMatcher(List.of());
        assertEquals("abc", matcher.accept("abc"));
        assertEquals("", matcher.flush());
    }

    @Test
    void aSurrogatePairIsNeverSplit() {
        StopMatcher matcher = new StopMatcher(List.of("\uDE00x"));
        String released = matcher.accept("a\uD83D\uDE00");
        assertEquals("a", released, "the high surrogate stays with its low surrogate");
        assertEquals("\uD83D\uDE00y", matcher.accept("y"));
    }

    @Test
    void nothingFollowsAStopAndEmptyStopsAreRefused() {
        StopMatcher matcher = new StopMatcher(List.of("END"));
        assertEquals("ab", matcher.accept("abEN"));
        assertEquals("", matcher.accept("Dcd"));
        assertTrue(matcher.stopped());
        assertThrows(IllegalStateException.class, () -> matcher.accept("more"));
        assertThrows(IllegalArgumentException.class, () -> new StopMatcher(List.of("")));
        assertFalse(new StopMatcher(List.of("x")).stopped());
    }

    @Provide
    Arbitrary<String> texts() {
        return Arbitraries.strings().withChars("ab\n").ofMaxLength(40);
    }

    @Provide
    Arbitrary<String> stops() {
        return Arbitraries.strings().withChars("ab\n").ofMinLength(1).ofMaxLength(4);
    }

    private static int firstStop(String text, List<String> stops) {
        int first = -1;
        for (String stop : stops) {
            int at = text.indexOf(stop);
            if (at >= 0 && (first < 0 || at < first)) {
                first = at;
            }
        }
        return first;
    }

    /** The longest end of {@code text} that is a proper beginning of some stop string. */
    private static int partialStop(String text, List<String> stops) {
        int longest = 0;
        for (String stop : stops) {
            for (int length = 1; length < stop.length() && length <= text.length(); length++) {
                if (text.endsWith(stop.substring(0, length))) {
                    longest = Math.max(longest, length);
                }
            }
        }
        return longest;
    }
}
