package dev.winnow.engine.chat;

import java.util.List;

/**
 * Llama 2 chat: {@code <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s>}, one
 * {@code <s>[INST] ... [/INST]} per user message, the system prompt inside the first one; messages are stripped.
 */
final class Llama2Template implements ChatTemplate {
    private static final String BOS = "<s>";
    private static final String EOS = "</s>";

    private String systemPrompt;

    @Override
    public String name() {
        return "llama2";
    }

    @Override
    public String beginConversation(String systemPromptOrNull) {
        systemPrompt = systemPromptOrNull;
        return "";
    }

    @Override
    public String userTurn(String userText, boolean firstTurn) {
        TemplateText.require(userText, "user message");
        return instruction(firstTurn ? systemPrompt : null, userText);
    }

    @Override
    public String assistantReply(String content) {
        return " " + TemplateText.strip(TemplateText.require(content, "assistant message")) + " ";
    }

    @Override
    public String afterAssistantTurn() {
        return EOS;
    }

    @Override
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        List<ChatMessage> turns = TemplateText.alternatingTurns(messages, "Llama 2");
        String system = TemplateText.leadingSystem(messages);
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < turns.size(); i++) {
            String content = turns.get(i).content();
            text.append(i % 2 == 0 ? instruction(i == 0 ? system : null, content) : assistantReply(content) + EOS);
        }
        // The format has no separate generation prompt: a user turn already ends with [/INST].
        return text.toString();
    }

    private static String instruction(String systemOrNull, String user) {
        String content = systemOrNull == null ? user : "<<SYS>>\n" + systemOrNull + "\n<</SYS>>\n\n" + user;
        return BOS + "[INST] " + TemplateText.strip(content) + " [/INST]";
    }
}
