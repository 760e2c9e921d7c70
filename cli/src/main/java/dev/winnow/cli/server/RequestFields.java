package dev.winnow.cli.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.HashSet;
import java.util.Iterator;
import java.util.Set;

/**
 * The fields of a JSON request body, read with the type and range each must have. A field given as null counts
 * as absent. Every field must be read by someone: {@link #requireAllRead} names the first one nobody knew, so an
 * unknown parameter is refused rather than silently ignored.
 */
final class RequestFields {
    private final ObjectNode body;
    private final Set<String> read = new HashSet<>();

    RequestFields(ObjectNode body) {
        this.body = body;
    }

    /** The field's value, or null when it is absent or null. */
    JsonNode get(String name) {
        read.add(name);
        JsonNode value = body.get(name);
        return value == null || value.isNull() ? null : value;
    }

    boolean has(String name) {
        return get(name) != null;
    }

    double number(String name, double fallback, double min, double max) {
        JsonNode value = get(name);
        if (value == null) {
            return fallback;
        }
        if (!value.isNumber()) {
            throw ApiException.invalid(name, "'%s' must be a number, got %s".formatted(name, value));
        }
        double number = value.asDouble();
        if (!(number >= min && number <= max)) {
            throw ApiException.invalid(name, "'%s' must be between %s and %s, got %s"
                    .formatted(name, plain(min), plain(max), value));
        }
        return number;
    }

    long integer(String name, long fallback, long min, long max) {
        JsonNode value = get(name);
        if (value == null) {
            return fallback;
        }
        if (!value.isIntegralNumber() || !value.canConvertToLong()) {
            throw ApiException.invalid(name, "'%s' must be an integer, got %s".formatted(name, value));
        }
        long number = value.asLong();
        if (number < min || number > max) {
            throw ApiException.invalid(name, "'%s' must be between %d and %d, got %d".formatted(name, min, max, number));
        }
        return number;
    }

    boolean bool(String name, boolean fallback) {
        JsonNode value = get(name);
        if (value == null) {
            return fallback;
        }
        if (!value.isBoolean()) {
            throw ApiException.invalid(name, "'%s' must be true or false, got %s".formatted(name, value));
        }
        return value.asBoolean();
    }

    String string(String name) {
        JsonNode value = get(name);
        if (value == null) {
            return null;
        }
        if (!value.isTextual()) {
            throw ApiException.invalid(name, "'%s' must be a string, got %s".formatted(name, value));
        }
        return value.asText();
    }

    /** Refuses the first non-null field that was never read. */
    void requireAllRead() {
        for (Iterator<String> names = body.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!read.contains(name) && !body.get(name).isNull()) {
                throw new ApiException(400, "invalid_request_error", name, "unknown_parameter",
                        "Unrecognized request argument supplied: " + name, 0);
            }
        }
    }

    private static String plain(double value) {
        return value == Math.rint(value) ? Long.toString((long) value) : Double.toString(value);
    }
}
