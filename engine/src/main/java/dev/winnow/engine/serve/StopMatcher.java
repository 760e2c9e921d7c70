package dev.winnow.engine.serve;

import java.util.List;

/**
 * Cuts generated text at the first occurrence of any stop string, as the text streams in piece by piece. Text
 * that could still turn out to be the start of a stop string is held back until the next piece decides; all
 * other text is released at once. Neither the stop string nor anything after it is ever released.
 */
public final class StopMatcher {
    private final List<String> stops;
    private final int longestStop;
    /** Text received but not released: always shorter than the longest stop string, until a stop is found. */
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    /** @param stops non-empty stop strings (an empty list releases everything at once) */
    public StopMatcher(List<String> stops) {
        for (String stop : stops) {
            if (stop == null || stop.isEmpty()) {
                throw new IllegalArgumentException("a stop string must not be empty");
            }
        }
        this.stops = List.copyOf(stops);
        this.longestStop = stops.stream().mapToInt(String::length).max().orElse(0);
    }

    /**
     * Takes the next piece of text and returns what can be released now: everything before a stop string (then
     * {@link #stopped()} is true), or everything that cannot be the start of one.
     */
    public String accept(String text) {
        if (stopped) {
            throw new IllegalStateException("a stop string was already found; nothing follows it");
        }
        if (stops.isEmpty()) {
            return text;
        }
        held.append(text);
        int first = -1;
        for (String stop : stops) {
            int at = held.indexOf(stop);
            if (at >= 0 && (first < 0 || at < first)) {
                first = at;
            }
        }
        if (first >= 0) {
            stopped = true;
            String released = held.substring(0, first);
            held.setLength(0);
            return released;
        }
        int release = held.length() - partialStopLength();
        if (release > 0 && Character.isHighSurrogate(held.charAt(release - 1))) {
            release--; // never split a surrogate pair
        }
        String released = held.substring(0, release);
        held.delete(0, release);
        return released;
    }

    /** Whether a stop string was found: the text ended before it. */
    public boolean stopped() {
        return stopped;
    }

    /** At the end of generation: the held-back text, which no stop string completed. */
    public String flush() {
        String rest = held.toString();
        held.setLength(0);
        return rest;
    }

    /** Length of the longest end of the held text that is the beginning of a stop string. */
    private int partialStopLength() {
        for (int length = Math.min(held.length(), longestStop - 1); length > 0; length--) {
            int from = held.length() - length;
            for (String stop : stops) {
                if (stop.length() > length && heldMatches(from, stop, length)) {
                    return length;
                }
            }
        }
        return 0;
    }

    private boolean heldMatches(int from, String stop, int length) {
        for (int i = 0; i < length; i++) {
            if (held.charAt(from + i) != stop.charAt(i)) {
                return false;
            }
        }
        return true;
    }
}
