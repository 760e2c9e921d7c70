package dev.winnow.engine.chat;

import java.util.List;

/**
 * Llama 3 instruct: {@code <|begin_of_text|>} then per message
 * {@code <|start_header_id|>role<|end_header_id|>\n\n{content, trimmed}<|eot_id|>}.
 */
final class Llama3Template implements ChatTemplate {
    private static final String BEGIN_OF_TEXT = "<|begin_of_text|>";
    private static final String END_OF_TURN = "<|eot_id|>";

    @Override
    public String name() {
        return "llama3";
    }

    @Override
    public String beginConversation(String systemPromptOrNull) {
        return systemPromptOrNull == null ? BEGIN_OF_TEXT : BEGIN_OF_TEXT + message(ChatMessage.SYSTEM, systemPromptOrNull);
    }

    @Override
    public String userTurn(String userText, boolean firstTurn) {
        return message(ChatMessage.USER, TemplateText.require(userText, "user message")) + header(ChatMessage.ASSISTANT);
    }

    @Override
    public String assistantReply(String content) {
        return TemplateText.strip(TemplateText.require(content, "assistant message"));
    }

    @Override
    public String afterAssistantTurn() {
        return END_OF_TURN;
    }

    @Override
    public List<String> stopTokens() {
        return List.of(END_OF_TURN);
    }

    @Override
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        StringBuilder text = new StringBuilder();
        for (ChatMessage message : TemplateText.requireMessages(messages)) {
            if (text.isEmpty()) {
                text.append(BEGIN_OF_TEXT);
            }
            text.append(message(message.role(), message.content()));
        }
        if (addGenerationPrompt) {
            text.append(header(ChatMessage.ASSISTANT));
        }
        return text.toString();
    }

    private static String message(String role, String content) {
        return header(role) + TemplateText.strip(content) + END_OF_TURN;
    }

    private static String header(String role) {
        return "<|start_header_id|>" + role + "<|end_header_id|>\n\n";
    }
}
