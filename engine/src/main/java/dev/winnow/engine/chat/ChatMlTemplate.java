package dev.winnow.engine.chat;

import java.util.List;

/** ChatML (Qwen, SmolLM, many fine-tunes): {@code <|im_start|>role\n{content}<|im_end|>\n} per message. */
final class ChatMlTemplate implements ChatTemplate {
    private static final String END = "<|im_end|>";

    @Override
    public String name() {
        return "chatml";
    }

    @Override
    public String beginConversation(String systemPromptOrNull) {
        return systemPromptOrNull == null ? "" : message(ChatMessage.SYSTEM, systemPromptOrNull);
    }

    @Override
    public String userTurn(String userText, boolean firstTurn) {
        return message(ChatMessage.USER, TemplateText.require(userText, "user message")) + header(ChatMessage.ASSISTANT);
    }

    @Override
    public String assistantReply(String content) {
        return TemplateText.require(content, "assistant message");
    }

    @Override
    public String afterAssistantTurn() {
        return END + "\n";
    }

    @Override
    public List<String> stopTokens() {
        return List.of(END);
    }

    @Override
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        StringBuilder text = new StringBuilder();
        for (ChatMessage message : TemplateText.requireMessages(messages)) {
            text.append(message(message.role(), message.content()));
        }
        if (addGenerationPrompt) {
            text.append(header(ChatMessage.ASSISTANT));
        }
        return text.toString();
    }

    private static String message(String role, String content) {
        return header(role) + content + END + "\n";
    }

    private static String header(String role) {
        return "<|im_start|>" + role + "\n";
    }
}
