package dev.winnow.cli.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Arrays;

/**
 * The JSON objects of OpenAI's completion APIs, for one request: the whole response, or the chunks of a stream
 * ({@code chat.completion.chunk} deltas, or {@code text_completion} pieces).
 */
final class Responses {
    /** Where the template's text goes: no id or model name holds a NUL character, so it appears once. */
    private static final String SLOT = "\u0000";
    private static final byte[] SLOT_JSON = Replies.write(SLOT);

    private final ObjectMapper json;
    private final ParsedRequest.Kind kind;
    private final String id;
    private final long created;
    private final String model;
    /**
     * The JSON of a text chunk before and after its text, by whether usage is asked for: built once from the tree
     * of {@link #text}, so that a token's chunk is only its text to encode.
     */
    private final byte[][] textChunkStart = new byte[2][];
    private final byte[][] textChunkEnd = new byte[2][];

    Responses(ObjectMapper json, ParsedRequest.Kind kind, String id, long created, String model) {
        this.json = json;
        this.kind = kind;
        this.id = id;
        this.created = created;
        this.model = model;
    }

    /** The non-streaming response. */
    ObjectNode complete(String text, String finishReason, int promptTokens, int completionTokens) {
        ObjectNode response = envelope(kind == ParsedRequest.Kind.CHAT ? "chat.completion" : "text_completion");
        ObjectNode choice = response.putArray("choices").addObject();
        choice.put("index", 0);
        if (kind == ParsedRequest.Kind.CHAT) {
            ObjectNode message = choice.putObject("message");
            message.put("role", "assistant");
            message.put("content", text);
        } else {
            choice.put("text", text);
        }
        choice.putNull("logprobs");
        choice.put("finish_reason", finishReason);
        response.set("usage", usage(promptTokens, completionTokens));
        return response;
    }

    /** The first chunk of a stream: the assistant role for a chat, the echoed prompt for a completion; or null. */
    ObjectNode opening(String echo, boolean includeUsage) {
        if (kind == ParsedRequest.Kind.CHAT) {
            ObjectNode chunk = chunk(includeUsage);
            ObjectNode delta = choice(chunk).putObject("delta");
            delta.put("role", "assistant");
            delta.put("content", "");
            return chunk;
        }
        return echo.isEmpty() ? null : text(echo, includeUsage);
    }

    /** A chunk carrying the next piece of text. */
    ObjectNode text(String text, boolean includeUsage) {
        ObjectNode chunk = chunk(includeUsage);
        ObjectNode choice = choice(chunk);
        if (kind == ParsedRequest.Kind.CHAT) {
            choice.putObject("delta").put("content", text);
        } else {
            choice.put("text", text);
        }
        return chunk;
    }

    /** The JSON of {@link #text}'s chunk, the same bytes, without building its tree. */
    byte[] textJson(String text, boolean includeUsage) {
        int variant = includeUsage ? 1 : 0;
        if (textChunkStart[variant] == null) {
            byte[] template = Replies.write(text(SLOT, includeUsage));
            int at = indexOf(template, SLOT_JSON);
            textChunkStart[variant] = Arrays.copyOfRange(template, 0, at);
            textChunkEnd[variant] = Arrays.copyOfRange(template, at + SLOT_JSON.length, template.length);
        }
        byte[] quoted = Replies.write(text);
        byte[] start = textChunkStart[variant];
        byte[] end = textChunkEnd[variant];
        byte[] chunk = Arrays.copyOf(start, start.length + quoted.length + end.length);
        System.arraycopy(quoted, 0, chunk, start.length, quoted.length);
        System.arraycopy(end, 0, chunk, start.length + quoted.length, end.length);
        return chunk;
    }

    private static int indexOf(byte[] bytes, byte[] part) {
        for (int at = 0; at + part.length <= bytes.length; at++) {
            if (Arrays.equals(bytes, at, at + part.length, part, 0, part.length)) {
                return at;
            }
        }
        throw new IllegalStateException("the text chunk's template lost its text");
    }

    /** The chunk that says why the stream ended. */
    ObjectNode finish(String finishReason, boolean includeUsage) {
        ObjectNode chunk = chunk(includeUsage);
        ObjectNode choice = choice(chunk);
        if (kind == ParsedRequest.Kind.CHAT) {
            choice.putObject("delta");
        } else {
            choice.put("text", "");
        }
        choice.put("finish_reason", finishReason);
        return chunk;
    }

    /** The last chunk when usage was asked for: no choices, the token counts. */
    ObjectNode usageChunk(int promptTokens, int completionTokens) {
        ObjectNode chunk = envelope(chunkObject());
        chunk.putArray("choices");
        chunk.set("usage", usage(promptTokens, completionTokens));
        return chunk;
    }

    private ObjectNode chunk(boolean includeUsage) {
        ObjectNode chunk = envelope(chunkObject());
        ObjectNode choice = chunk.putArray("choices").addObject();
        choice.put("index", 0);
        choice.putNull("logprobs");
        choice.putNull("finish_reason");
        if (includeUsage) {
            chunk.putNull("usage");
        }
        return chunk;
    }

    private static ObjectNode choice(ObjectNode chunk) {
        return (ObjectNode) chunk.get("choices").get(0);
    }

    private String chunkObject() {
        return kind == ParsedRequest.Kind.CHAT ? "chat.completion.chunk" : "text_completion";
    }

    private ObjectNode envelope(String object) {
        ObjectNode node = json.createObjectNode();
        node.put("id", id);
        node.put("object", object);
        node.put("created", created);
        node.put("model", model);
        return node;
    }

    private ObjectNode usage(int promptTokens, int completionTokens) {
        ObjectNode usage = json.createObjectNode();
        usage.put("prompt_tokens", promptTokens);
        usage.put("completion_tokens", completionTokens);
        usage.put("total_tokens", promptTokens + completionTokens);
        return usage;
    }
}
