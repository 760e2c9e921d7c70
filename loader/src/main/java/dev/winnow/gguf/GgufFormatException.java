package dev.winnow.gguf;

import java.nio.file.Path;
import java.util.Optional;

/**
 * The one exception for a malformed GGUF file: it says what is wrong and at which byte of the file.
 * Unchecked, because no caller can do more than report it.
 */
public final class GgufFormatException extends RuntimeException {
    private final transient Path file;
    private final String what;
    private final long offset;

    /** A problem in a file whose name is not known. */
    public GgufFormatException(String what, long offset) {
        this(null, what, offset);
    }

    /** A problem in {@code file} (which may be null when unknown). */
    public GgufFormatException(Path file, String what, long offset) {
        super(message(file, what, offset));
        this.file = file;
        this.what = what;
        this.offset = offset;
    }

    private static String message(Path file, String what, long offset) {
        String prefix = file == null || file.getFileName() == null ? "" : file.getFileName() + ": ";
        return prefix + what + " at byte " + offset;
    }

    /** The byte offset in the file where the problem was found. */
    public long offset() {
        return offset;
    }

    /** What is wrong, without the file name and offset. */
    public String what() {
        return what;
    }

    /** The file, when known. */
    public Optional<Path> file() {
        return Optional.ofNullable(file);
    }
}
