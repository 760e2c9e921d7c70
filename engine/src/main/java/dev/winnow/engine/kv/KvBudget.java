package dev.winnow.engine.kv;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How much memory the KV page pool may take: either a token count (room for that many tokens in every layer,
 * the size a dense cache of that length would have) or a number of bytes.
 *
 * @param amount  how many tokens or bytes
 * @param inBytes whether {@code amount} counts bytes rather than tokens
 */
public record KvBudget(long amount, boolean inBytes) {
    private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([KMGT]?I?B)?");

    public KvBudget {
        if (amount < 1) {
            throw new IllegalArgumentException(
                    "a KV budget of %d %s holds nothing".formatted(amount, inBytes ? "bytes" : "tokens"));
        }
    }

    /** Room for {@code tokens} tokens in every layer. */
    public static KvBudget tokens(long tokens) {
        return new KvBudget(tokens, false);
    }

    /** At most {@code bytes} bytes of pages. */
    public static KvBudget bytes(long bytes) {
        return new KvBudget(bytes, true);
    }

    /** Pages the budget allows for pages of {@code pageSize} slots and {@code pageBytes} bytes. */
    public long maxPages(int layers, int pageSize, long pageBytes) {
        if (inBytes) {
            return amount / pageBytes;
        }
        long pagesPerLayer = Math.ceilDiv(amount, pageSize);
        return pagesPerLayer > Long.MAX_VALUE / layers ? Long.MAX_VALUE : layers * pagesPerLayer;
    }

    @Override
    public String toString() {
        return amount + (inBytes ? " bytes" : " tokens");
    }

    /**
     * Reads {@code 4096} (tokens) or a size with a unit: {@code B}, {@code KB}/{@code KiB}, {@code MB}/{@code MiB},
     * {@code GB}/{@code GiB}, {@code TB}/{@code TiB} (case-insensitive; decimal units are powers of 1000).
     */
    public static KvBudget parse(String text) {
        Matcher m = SIZE.matcher(text.strip().toUpperCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException(
                    "KV budget '%s' is neither a token count (4096) nor a size with a unit (256MiB, 1.5GB)".formatted(text));
        }
        String unit = m.group(2);
        if (unit == null) {
            if (m.group(1).contains(".")) {
                throw new IllegalArgumentException("KV budget '%s': a token count must be a whole number".formatted(text));
            }
            try {
                return tokens(Long.parseLong(m.group(1)));
            } catch (NumberFormatException tooLong) {
                throw new IllegalArgumentException("KV budget '%s' is too large: at most %d tokens"
                        .formatted(text, Long.MAX_VALUE));
            }
        }
        double base = unit.contains("I") ? 1024 : 1000;
        int power = "KMGT".indexOf(unit.charAt(0)) + 1; // 0 for plain bytes
        if (unit.equals("IB")) {
            throw new IllegalArgumentException("KV budget '%s': unknown unit".formatted(text));
        }
        double bytes = Double.parseDouble(m.group(1)) * Math.pow(base, power);
        if (bytes >= Long.MAX_VALUE) {
            throw new IllegalArgumentException("KV budget '%s' is too large".formatted(text));
        }
        return bytes((long) bytes);
    }
}
