package dev.winnow.cli.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.winnow.engine.chat.ChatMessage;
import dev.winnow.engine.chat.ChatTemplate;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.sampling.SamplerConfig;
import dev.winnow.engine.serve.GenerationParams;
import dev.winnow.engine.serve.GenerationRequest;
import dev.winnow.engine.tokenizer.Tokenizer;
import dev.winnow.engine.tokenizer.TokenizerException;
import dev.winnow.engine.tokenizer.Vocabulary;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Reads the body of {@code POST /v1/chat/completions} and {@code POST /v1/completions}: every parameter is either
 * honoured or refused by name, never ignored. Defaults are OpenAI's: temperature 1, top-p 1, no top-k or min-p,
 * no penalties, 16 tokens for a text completion and the rest of the context for a chat.
 */
final class RequestParser {
    /** OpenAI allows 4 stop sequences; a few more cost nothing. */
    static final int MAX_STOPS = 16;
    static final int MAX_STOP_LENGTH = 256;
    static final int DEFAULT_COMPLETION_TOKENS = 16;

    private final Model model;
    private final int contextLength;

    RequestParser(Model model, int contextLength) {
        this.model = model;
        this.contextLength = contextLength;
    }

    ParsedRequest parse(ParsedRequest.Kind kind, ObjectNode body) {
        RequestFields fields = new RequestFields(body);
        fields.string("model"); // one model is served, whatever the client calls it
        fields.string("user");
        refuseUnsupported(fields, kind);

        int[] prompt;
        int[] stopTokens = new int[0];
        String echo = "";
        String promptParam;
        if (kind == ParsedRequest.Kind.CHAT) {
            promptParam = "messages";
            ChatTemplate template = ChatTemplate.detect(model.vocabulary().chatTemplate()).template();
            prompt = encodeChat(template, messages(fields.get("messages")));
            stopTokens = template.stopTokens().stream()
                    .mapToInt(text -> model.tokenizer().specialTokenId(text).orElse(-1))
                    .filter(id -> id >= 0).toArray();
        } else {
            promptParam = "prompt";
            boolean wantsEcho = fields.bool("echo", false);
            JsonNode promptNode = fields.get("prompt");
            prompt = completionPrompt(promptNode);
            if (wantsEcho) {
                echo = promptNode.isTextual() ? promptNode.asText()
                        : promptNode.size() == 1 && promptNode.get(0).isTextual() ? promptNode.get(0).asText()
                        : model.tokenizer().decode(prompt);
            }
        }

        int remaining = contextLength - prompt.length;
        if (remaining < 1) {
            throw contextExceeded(promptParam, "This model's maximum context length is %d tokens, however your %s resulted in %d tokens; shorten the input"
                    .formatted(contextLength, promptParam, prompt.length));
        }
        int maxTokens = maxTokens(fields, kind, remaining);
        if (maxTokens > remaining) {
            throw contextExceeded(promptParam, "This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the %s, %d in the completion). Please reduce the length of the %s or completion."
                    .formatted(contextLength, prompt.length + maxTokens, prompt.length, promptParam, maxTokens, promptParam));
        }

        SamplerConfig sampling = sampling(fields);
        GenerationParams params;
        try {
            params = new GenerationParams(sampling,
                    (float) fields.number("presence_penalty", 0, -2, 2),
                    (float) fields.number("frequency_penalty", 0, -2, 2),
                    logitBias(fields.get("logit_bias")), maxTokens, stops(fields.get("stop")),
                    fields.bool("ignore_eos", false));
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(null, e.getMessage());
        }

        boolean stream = fields.bool("stream", false);
        boolean includeUsage = streamOptions(fields.get("stream_options"), stream);
        fields.requireAllRead();
        return new ParsedRequest(kind, new GenerationRequest(prompt, params, stopTokens), stream, includeUsage, echo);
    }

    /** Parameters of OpenAI's API that Winnow does not implement: refused with their name unless neutral. */
    private static void refuseUnsupported(RequestFields fields, ParsedRequest.Kind kind) {
        if (fields.integer("n", 1, 1, Integer.MAX_VALUE) != 1) {
            throw ApiException.unsupported("n", "only one choice per request (n = 1); send several requests instead");
        }
        JsonNode logprobs = fields.get("logprobs");
        if (logprobs != null && !(logprobs.isBoolean() && !logprobs.asBoolean())) {
            throw ApiException.unsupported("logprobs", "log probabilities are not returned");
        }
        JsonNode topLogprobs = fields.get("top_logprobs");
        if (topLogprobs != null && !(topLogprobs.isIntegralNumber() && topLogprobs.asLong() == 0)) {
            throw ApiException.unsupported("top_logprobs", "log probabilities are not returned");
        }
        for (String tools : List.of("tools", "functions", "function_call")) {
            JsonNode value = fields.get(tools);
            if (value != null && !(value.isArray() && value.isEmpty())) {
                throw ApiException.unsupported(tools, "tool and function calling are not implemented");
            }
        }
        String toolChoice = fields.get("tool_choice") == null ? null : fields.get("tool_choice").asText("");
        if (toolChoice != null && !toolChoice.equals("none")) {
            throw ApiException.unsupported("tool_choice", "tool calling is not implemented (only \"none\")");
        }
        fields.bool("parallel_tool_calls", false); // meaningless without tools
        JsonNode format = fields.get("response_format");
        if (format != null && !(format.isObject() && format.size() == 1 && "text".equals(format.path("type").asText()))) {
            throw ApiException.unsupported("response_format", "only {\"type\": \"text\"}; structured output is not implemented");
        }
        if (kind == ParsedRequest.Kind.COMPLETION) {
            String suffix = fields.string("suffix");
            if (suffix != null && !suffix.isEmpty()) {
                throw ApiException.unsupported("suffix", "insertion after a suffix is not implemented");
            }
            if (fields.integer("best_of", 1, 1, Integer.MAX_VALUE) != 1) {
                throw ApiException.unsupported("best_of", "only best_of = 1");
            }
        }
    }

    private static SamplerConfig sampling(RequestFields fields) {
        float temperature = (float) fields.number("temperature", 1, 0, 2);
        double topP = fields.number("top_p", 1, 0, 1);
        long topK = fields.integer("top_k", 0, -1, Integer.MAX_VALUE);
        float minP = (float) fields.number("min_p", 0, 0, 1);
        float repetition = (float) fields.number("repetition_penalty", 1, 0, 100);
        if (repetition == 0) {
            throw ApiException.invalid("repetition_penalty", "'repetition_penalty' must be above 0 (1 is off)");
        }
        long seed = fields.integer("seed", ThreadLocalRandom.current().nextLong(), Long.MIN_VALUE, Long.MAX_VALUE);
        // top_p 0 asks for the single most likely token; the sampler's top-p must be positive, and any positive
        // value below the top token's probability keeps that token alone.
        return new SamplerConfig(temperature, (int) Math.max(0, topK), topP == 0 ? Float.MIN_VALUE : (float) topP, minP,
                repetition, 64, seed);
    }

    private static int maxTokens(RequestFields fields, ParsedRequest.Kind kind, int remaining) {
        long maxTokens = fields.integer("max_tokens", -1, 1, Integer.MAX_VALUE);
        long maxCompletionTokens = fields.integer("max_completion_tokens", -1, 1, Integer.MAX_VALUE);
        if (maxTokens > 0 && maxCompletionTokens > 0 && maxTokens != maxCompletionTokens) {
            throw ApiException.invalid("max_completion_tokens",
                    "'max_tokens' (%d) and 'max_completion_tokens' (%d) disagree; give one".formatted(maxTokens, maxCompletionTokens));
        }
        long limit = Math.max(maxTokens, maxCompletionTokens);
        if (limit > 0) {
            return (int) limit;
        }
        return kind == ParsedRequest.Kind.CHAT ? remaining : Math.min(DEFAULT_COMPLETION_TOKENS, remaining);
    }

    private static boolean streamOptions(JsonNode options, boolean stream) {
        if (options == null) {
            return false;
        }
        if (!stream) {
            throw ApiException.invalid("stream_options", "'stream_options' is only allowed when 'stream' is true");
        }
        if (!options.isObject()) {
            throw ApiException.invalid("stream_options", "'stream_options' must be an object");
        }
        boolean includeUsage = false;
        for (Iterator<Map.Entry<String, JsonNode>> it = options.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> option = it.next();
            if (!option.getKey().equals("include_usage")) {
                throw ApiException.unsupported("stream_options." + option.getKey(), "only include_usage");
            }
            if (!option.getValue().isBoolean()) {
                throw ApiException.invalid("stream_options.include_usage", "'include_usage' must be true or false");
            }
            includeUsage = option.getValue().asBoolean();
        }
        return includeUsage;
    }

    private List<ChatMessage> messages(JsonNode node) {
        if (node == null || !node.isArray() || node.isEmpty()) {
            throw ApiException.invalid("messages", "'messages' must be a non-empty array of {role, content} objects");
        }
        List<ChatMessage> messages = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            JsonNode message = node.get(i);
            String at = "messages[" + i + "]";
            if (!message.isObject()) {
                throw ApiException.invalid(at, at + " must be an object with 'role' and 'content'");
            }
            for (Iterator<String> names = message.fieldNames(); names.hasNext(); ) {
                String name = names.next();
                if (!List.of("role", "content", "name").contains(name) && !message.get(name).isNull()) {
                    throw ApiException.unsupported(at + "." + name, "messages carry only role, content and name");
                }
            }
            String role = message.path("role").asText("");
            role = switch (role) {
                case "system", "developer" -> ChatMessage.SYSTEM;
                case "user" -> ChatMessage.USER;
                case "assistant" -> ChatMessage.ASSISTANT;
                case "tool", "function" -> throw ApiException.unsupported(at + ".role", "tool and function messages are not implemented");
                default -> throw ApiException.invalid(at + ".role",
                        at + ".role must be system, developer, user or assistant, got " + message.get("role"));
            };
            messages.add(new ChatMessage(role, content(message.get("content"), at + ".content")));
        }
        return messages;
    }

    /** A string, or an array of text parts (joined by newlines). */
    private static String content(JsonNode content, String at) {
        if (content != null && content.isTextual()) {
            return content.asText();
        }
        if (content == null || !content.isArray()) {
            throw ApiException.invalid(at, at + " must be a string or an array of text parts");
        }
        List<String> parts = new ArrayList<>();
        for (JsonNode part : content) {
            if (!"text".equals(part.path("type").asText()) || !part.path("text").isTextual()) {
                throw ApiException.unsupported(at, "only text parts ({\"type\": \"text\", \"text\": ...}); this model reads text only");
            }
            parts.add(part.get("text").asText());
        }
        return String.join("\n", parts);
    }

    private int[] encodeChat(ChatTemplate template, List<ChatMessage> messages) {
        String text;
        try {
            text = template.render(messages, true);
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid("messages", e.getMessage());
        }
        Vocabulary vocabulary = model.vocabulary();
        // Formats that start turns with BOS write it themselves.
        boolean writesBos = vocabulary.bos() >= 0 && text.startsWith(vocabulary.tokens()[vocabulary.bos()]);
        return encode(text, vocabulary.addBos() && !writesBos, "messages");
    }

    /** A string, one string in an array, an array of token ids, or one such array in an array. */
    private int[] completionPrompt(JsonNode prompt) {
        if (prompt == null) {
            throw ApiException.invalid("prompt", "'prompt' is required");
        }
        if (prompt.isTextual()) {
            return encode(prompt.asText(), model.vocabulary().addBos(), "prompt");
        }
        if (!prompt.isArray() || prompt.isEmpty()) {
            throw ApiException.invalid("prompt", "'prompt' must be a string, an array of token ids, or an array holding one of them");
        }
        if (prompt.size() > 1 && (prompt.get(0).isTextual() || prompt.get(0).isArray())) {
            throw ApiException.unsupported("prompt", "one prompt per request; send several requests instead");
        }
        JsonNode only = prompt.get(0);
        if (only.isTextual()) {
            return encode(only.asText(), model.vocabulary().addBos(), "prompt");
        }
        return tokenIds(only.isArray() ? only : prompt);
    }

    private int[] tokenIds(JsonNode ids) {
        int[] tokens = tokenIds(ids, "prompt", model.config().vocabularySize());
        if (tokens.length == 0) {
            throw ApiException.invalid("prompt", "the prompt has no tokens");
        }
        return tokens;
    }

    /** An array of token ids, each checked against the vocabulary; {@code param} names the field in errors. */
    static int[] tokenIds(JsonNode ids, String param, int vocabulary) {
        if (!ids.isArray()) {
            throw ApiException.invalid(param, "'%s' must be an array of token ids".formatted(param));
        }
        int[] tokens = new int[ids.size()];
        for (int i = 0; i < tokens.length; i++) {
            JsonNode id = ids.get(i);
            if (!id.isIntegralNumber() || !id.canConvertToInt() || id.asInt() < 0 || id.asInt() >= vocabulary) {
                throw ApiException.invalid(param, "%s token %d is %s; token ids are integers from 0 to %d"
                        .formatted(param, i, id, vocabulary - 1));
            }
            tokens[i] = id.asInt();
        }
        return tokens;
    }

    private int[] encode(String text, boolean addBos, String param) {
        Tokenizer tokenizer = model.tokenizer();
        int[] tokens;
        try {
            tokens = tokenizer.encode(text, addBos, true);
        } catch (TokenizerException e) {
            throw ApiException.invalid(param, "the text cannot be tokenized: " + e.getMessage());
        }
        if (tokens.length == 0) {
            throw ApiException.invalid(param, "the %s is empty and the model adds no BOS token: nothing to start from".formatted(param));
        }
        return tokens;
    }

    private Map<Integer, Float> logitBias(JsonNode node) {
        if (node == null) {
            return Map.of();
        }
        if (!node.isObject()) {
            throw ApiException.invalid("logit_bias", "'logit_bias' must be an object mapping token ids to biases");
        }
        Map<Integer, Float> bias = new LinkedHashMap<>();
        int vocabulary = model.config().vocabularySize();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> entry = it.next();
            int id;
            try {
                id = Integer.parseInt(entry.getKey());
            } catch (NumberFormatException e) {
                id = -1;
            }
            if (id < 0 || id >= vocabulary) {
                throw ApiException.invalid("logit_bias", "logit_bias key '%s' is not a token id from 0 to %d"
                        .formatted(entry.getKey(), vocabulary - 1));
            }
            JsonNode value = entry.getValue();
            if (!value.isNumber() || !(Math.abs(value.asDouble()) <= 100)) {
                throw ApiException.invalid("logit_bias", "logit_bias for token %d must be a number from -100 to 100, got %s"
                        .formatted(id, value));
            }
            bias.put(id, (float) value.asDouble());
        }
        return bias;
    }

    private static List<String> stops(JsonNode node) {
        if (node == null) {
            return List.of();
        }
        List<String> stops = new ArrayList<>();
        if (node.isTextual()) {
            stops.add(node.asText());
        } else if (node.isArray()) {
            for (JsonNode stop : node) {
                if (!stop.isTextual()) {
                    throw ApiException.invalid("stop", "'stop' must be a string or an array of strings, got " + stop);
                }
                stops.add(stop.asText());
            }
        } else {
            throw ApiException.invalid("stop", "'stop' must be a string or an array of strings");
        }
        if (stops.size() > MAX_STOPS) {
            throw ApiException.invalid("stop", "at most %d stop sequences, got %d".formatted(MAX_STOPS, stops.size()));
        }
        for (String stop : stops) {
            if (stop.isEmpty() || stop.length() > MAX_STOP_LENGTH) {
                throw ApiException.invalid("stop", "stop sequences must be 1 to %d characters long".formatted(MAX_STOP_LENGTH));
            }
        }
        return stops;
    }

    private static ApiException contextExceeded(String param, String message) {
        return new ApiException(400, "invalid_request_error", param, "context_length_exceeded", message, 0);
    }
}
