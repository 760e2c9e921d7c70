package dev.winnow.gguf;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import java.util.SequencedMap;

/** A GGUF file's key-value metadata, in file order. Never changes. */
public final class GgufMetadata {
    /** The key that sets the alignment of tensor data; a UINT32 power of two. */
    public static final String ALIGNMENT_KEY = "general.alignment";
    /** The alignment when {@link #ALIGNMENT_KEY} is absent. */
    public static final int DEFAULT_ALIGNMENT = 32;

    private final SequencedMap<String, GgufValue> entries;

    GgufMetadata(SequencedMap<String, GgufValue> entries) {
        this.entries = Collections.unmodifiableSequencedMap(new LinkedHashMap<>(entries));
    }

    /**
     * Metadata holding {@code entries} in their iteration order (for building metadata without a file, e.g. in
     * tests).
     *
     * @throws NullPointerException if a key or value is null
     */
    public static GgufMetadata of(Map<String, GgufValue> entries) {
        SequencedMap<String, GgufValue> copy = new LinkedHashMap<>();
        entries.forEach((key, value) -> copy.put(Objects.requireNonNull(key, "key"),
                Objects.requireNonNull(value, () -> "value of " + key)));
        return new GgufMetadata(copy);
    }

    /** All entries, in file order, unmodifiable. */
    public SequencedMap<String, GgufValue> asMap() {
        return entries;
    }

    public Optional<GgufValue> find(String key) {
        return Optional.ofNullable(entries.get(key));
    }

    /**
     * The value of a key that must be present.
     *
     * @throws NoSuchElementException naming the key when it is absent
     */
    public GgufValue require(String key) {
        GgufValue value = entries.get(key);
        if (value == null) {
            throw new NoSuchElementException("metadata key '" + key + "' is missing");
        }
        return value;
    }

    public boolean contains(String key) {
        return entries.containsKey(key);
    }

    public int size() {
        return entries.size();
    }

    /**
     * Why {@code value} cannot be the value of {@link #ALIGNMENT_KEY}, or null when it can: it must be a UINT32
     * holding a non-zero power of two.
     */
    static String alignmentProblem(GgufValue value) {
        if (value.type() != GgufValueType.UINT32) {
            return ALIGNMENT_KEY + " must be a UINT32, not " + value.type();
        }
        long alignment = value.asLong();
        return Long.bitCount(alignment) == 1 ? null
                : ALIGNMENT_KEY + " is " + alignment + "; it must be a non-zero power of two";
    }

    @Override
    public String toString() {
        return entries.toString();
    }
}
