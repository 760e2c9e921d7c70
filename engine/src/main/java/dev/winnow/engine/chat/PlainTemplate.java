package dev.winnow.engine.chat;

import java.util.List;

/**
 * No chat format: the model simply continues the text. A system prompt is a first line; user and assistant
 * messages follow each other with nothing in between. For base models and unrecognised templates.
 */
public final class PlainTemplate implements ChatTemplate {

    @Override
    public String name() {
        return "plain";
    }

    @Override
    public String beginConversation(String systemPromptOrNull) {
        return systemPromptOrNull == null ? "" : systemLine(systemPromptOrNull);
    }

    @Override
    public String userTurn(String userText, boolean firstTurn) {
        return TemplateText.require(userText, "user message");
    }

    @Override
    public String afterAssistantTurn() {
        return "";
    }

    @Override
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        StringBuilder text = new StringBuilder();
        for (ChatMessage message : TemplateText.requireMessages(messages)) {
            text.append(message.role().equals(ChatMessage.SYSTEM) ? systemLine(message.content()) : message.content());
        }
        return text.toString();
    }

    private static String systemLine(String systemPrompt) {
        return systemPrompt + "\n";
    }
}
