package dev.winnow.tensors;

import java.lang.management.ManagementFactory;
import java.util.List;

/**
 * Where the elements of a float array meet the 64-byte cache lines. A vector load that straddles two lines costs
 * about two: the prompt product's micro-kernel ran 15% slower with its panel off the lines (docs/performance.md).
 * Java gives no array addresses, but when HotSpot aligns every object to 64 bytes ({@code
 * -XX:ObjectAlignmentInBytes=64}, which {@code bin/winnow} sets) the elements of every float array start at the same
 * offset in a line, the array header's size, so a kernel can put its buffers on line boundaries. The flags are read
 * from the JVM's command line (the last of each wins, as in HotSpot); elsewhere nothing is known and indices stay as
 * they are. Either way the numbers computed are the same.
 */
final class HeapAlignment {
    private static final int LINE_BYTES = 64;
    private static final int LINE_FLOATS = LINE_BYTES / Float.BYTES;
    /** The first index of every float array that starts a line, or -1 where that is not known. */
    private static final int FIRST_ON_LINE = firstFloatOnLine();

    private HeapAlignment() {
    }

    /** The first index at or after {@code index} that starts a cache line, where known; else {@code index}. */
    static int lineStart(int index) {
        if (FIRST_ON_LINE < 0) {
            return index;
        }
        return index + Math.floorMod(FIRST_ON_LINE - index, LINE_FLOATS);
    }

    /** Floats that {@link #lineStart} may skip: what a buffer needs beyond its contents for each aligned part. */
    static int slack() {
        return FIRST_ON_LINE < 0 ? 0 : LINE_FLOATS - 1;
    }

    private static int firstFloatOnLine() {
        try {
            return firstFloatOnLine(ManagementFactory.getRuntimeMXBean().getInputArguments());
        } catch (RuntimeException | LinkageError noManagement) {
            return -1;
        }
    }

    /** {@link #FIRST_ON_LINE} for a JVM started with {@code arguments}, from HotSpot's defaults and the flags among them. */
    static int firstFloatOnLine(List<String> arguments) {
        int alignment = 8;
        boolean compactHeaders = false;
        boolean compressedClassPointers = true;
        for (String argument : arguments) {
            if (argument.startsWith("-XX:ObjectAlignmentInBytes=")) {
                try {
                    alignment = Integer.parseInt(argument.substring(argument.indexOf('=') + 1));
                } catch (NumberFormatException notANumber) {
                    return -1;
                }
            } else if (argument.equals("-XX:+UseCompactObjectHeaders") || argument.equals("-XX:-UseCompactObjectHeaders")) {
                compactHeaders = argument.charAt(4) == '+';
            } else if (argument.equals("-XX:+UseCompressedClassPointers") || argument.equals("-XX:-UseCompressedClassPointers")) {
                compressedClassPointers = argument.charAt(4) == '+';
            }
        }
        if (alignment % LINE_BYTES != 0) {
            return -1;
        }
        // HotSpot's float array header: mark word, class pointer, length.
        int header = compactHeaders ? 12 : compressedClassPointers ? 16 : 20;
        return (LINE_BYTES - header) / Float.BYTES;
    }
}
