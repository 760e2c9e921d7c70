package dev.winnow.cli.server;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/** Writing JSON and text answers, and OpenAI-format errors, to an exchange. */
final class Replies {
    static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    static final String JSON_TYPE = "application/json; charset=utf-8";

    private Replies() {
    }

    /** Sends a complete JSON answer; returns the status. */
    static int json(HttpExchange exchange, int status, JsonNode body) throws IOException {
        return bytes(exchange, status, JSON_TYPE, JSON.writeValueAsBytes(body));
    }

    static int text(HttpExchange exchange, int status, String contentType, String body) throws IOException {
        return bytes(exchange, status, contentType, body.getBytes(StandardCharsets.UTF_8));
    }

    /** Sends an error in OpenAI's format, with Retry-After when it has one; returns the status. */
    static int error(HttpExchange exchange, ApiException error) throws IOException {
        if (error.retryAfter > 0) {
            exchange.getResponseHeaders().set("Retry-After", Integer.toString(error.retryAfter));
        }
        if (error.status == 401) {
            exchange.getResponseHeaders().set("WWW-Authenticate", "Bearer");
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

    static byte[] write(JsonNode node) {
        try {
            return JSON.writeValueAsBytes(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JSON tree failed to serialize", e);
        }
    }

    private static int bytes(HttpExchange exchange, int status, String contentType, byte[] body) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", contentType);
        boolean withBody = body.length > 0 && !exchange.getRequestMethod().equals("HEAD");
        exchange.sendResponseHeaders(status, withBody ? body.length : -1);
        if (withBody) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
        return status;
    }
}
