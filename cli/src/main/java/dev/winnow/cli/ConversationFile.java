package dev.winnow.cli;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.winnow.engine.chat.ChatMessage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A saved chat: {@code {"messages": [{"role": "user", "content": "..."}, ...]}}, the shape of an OpenAI chat
 * request, so a saved conversation can also be sent to {@code winnow serve}.
 */
final class ConversationFile {
    /** Larger files are refused before they are read: a conversation is text, not a data set. */
    static final long MAX_BYTES = 64L << 20;
    private static final Set<String> ROLES = Set.of(ChatMessage.SYSTEM, ChatMessage.USER, ChatMessage.ASSISTANT);
    private static final ObjectMapper JSON = new ObjectMapper();

    private ConversationFile() {
    }

    static void save(Path file, List<ChatMessage> messages) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        ArrayNode array = root.putArray("messages");
        for (ChatMessage message : messages) {
            array.addObject().put("role", message.role()).put("content", message.content());
        }
        Files.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n");
    }

    /** @throws UserInputException naming the file and what is wrong with it */
    static List<ChatMessage> load(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new UserInputException(file + " is not a file");
        }
        if (Files.size(file) > MAX_BYTES) {
            throw new UserInputException("%s has %,d bytes; a saved conversation is at most %,d".formatted(file,
                    Files.size(file), MAX_BYTES));
        }
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (JacksonException e) {
            throw new UserInputException(file + " is not JSON: " + e.getOriginalMessage());
        }
        JsonNode array = root == null ? null : root.get("messages");
        if (array == null || !array.isArray()) {
            throw new UserInputException(file + " has no \"messages\" array (a file that /save wrote has one)");
        }
        List<ChatMessage> messages = new ArrayList<>();
        for (int i = 0; i < array.size(); i++) {
            JsonNode message = array.get(i);
            JsonNode role = message.get("role");
            JsonNode content = message.get("content");
            if (role == null || !role.isTextual() || !ROLES.contains(role.asText())) {
                throw new UserInputException(file + ": message " + i + " needs a role of system, user or assistant");
            }
            if (content == null || !content.isTextual()) {
                throw new UserInputException(file + ": message " + i + " needs a text content");
            }
            messages.add(new ChatMessage(role.asText(), content.asText()));
        }
        return messages;
    }
}
