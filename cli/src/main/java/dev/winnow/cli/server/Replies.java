package dev.winnow.cli.server;

import com.fasterxml.jackson.core.JsonFactoryBuilder;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.io.CharacterEscapes;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

/** Writing JSON and text answers, and OpenAI-format errors, to an exchange. */
final class Replies {
    /**
     * Every answer's JSON. Text a client sent can come back in it (an error names the method or path it refused):
     * '<', '>' and '&' are written as unicode escapes, so no answer carries markup, whatever a browser makes of it.
     */
    static final ObjectMapper JSON = new ObjectMapper(new JsonFactoryBuilder().characterEscapes(new NoMarkup()).build())
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    static final String JSON_TYPE = "application/json; charset=utf-8";

    private Replies() {
    }

    /** JSON's standard escapes, plus the three characters that start markup or an entity. */
    private static final class NoMarkup extends CharacterEscapes {
        private static final int[] ESCAPES = CharacterEscapes.standardAsciiEscapesForJSON();

        static {
            ESCAPES['<'] = CharacterEscapes.ESCAPE_STANDARD;
            ESCAPES['>'] = CharacterEscapes.ESCAPE_STANDARD;
            ESCAPES['&'] = CharacterEscapes.ESCAPE_STANDARD;
        }

        @Override
        public int[] getEscapeCodesForAscii() {
            return ESCAPES;
        }

        @Override
        public SerializableString getEscapeSequence(int ch) {
            return null; // only the standard escapes above
        }
    }

    /** Sends a complete JSON answer; returns the status. */
    static int json(Exchange exchange, int status, JsonNode body) throws IOException {
        return bytes(exchange, status, JSON_TYPE, JSON.writeValueAsBytes(body));
    }

    static int text(Exchange exchange, int status, String contentType, String body) throws IOException {
        return bytes(exchange, status, contentType, body.getBytes(StandardCharsets.UTF_8));
    }

    /** Sends an error in OpenAI's format, with Retry-After when it has one; returns the status. */
    static int error(Exchange exchange, ApiException error) throws IOException {
        if (error.retryAfter > 0) {
            exchange.setHeader("Retry-After", Integer.toString(error.retryAfter));
        }
        if (error.status == 401) {
            exchange.setHeader("WWW-Authenticate", "Bearer");
        }
        return json(exchange, error.status, errorBody(error));
    }

    /** {@code {"error": {"message", "type", "param", "code"}}}. */
    static ObjectNode errorBody(ApiException error) {
        ObjectNode body = JSON.createObjectNode();
        ObjectNode inner = body.putObject("error");
        inner.put("message", error.getMessage());
        inner.put("type", error.type);
        inner.put("param", error.param);
        inner.put("code", error.code);
        return body;
    }

    /** The JSON of a tree, or of a plain value such as a string. */
    static byte[] write(Object value) {
        try {
            return JSON.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JSON tree failed to serialize", e);
        }
    }

    static int bytes(Exchange exchange, int status, String contentType, byte[] body) throws IOException {
        exchange.setHeader("Content-Type", contentType);
        exchange.begin(status, body.length);
        exchange.end(body);
        return status;
    }
}
