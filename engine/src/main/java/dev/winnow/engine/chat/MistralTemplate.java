package dev.winnow.engine.chat;

import java.util.List;

/**
 * Mistral Instruct (v0.1 style): {@code <s>[INST] {user} [/INST]{assistant}</s>[INST] {user} [/INST]}: BOS once,
 * no {@code <<SYS>>} block, messages as they are. The format has no system role; a system prompt goes in front of
 * the first user message, followed by a blank line (as Mistral's later templates do).
 */
final class MistralTemplate implements ChatTemplate {
    private static final String BOS = "<s>";
    private static final String EOS = "</s>";

    private String systemPrompt;

    @Override
    public String name() {
        return "mistral";
    }

    @Override
    public String beginConversation(String systemPromptOrNull) {
        systemPrompt = systemPromptOrNull;
        return BOS;
    }

    @Override
    public String userTurn(String userText, boolean firstTurn) {
        return instruction(firstTurn ? systemPrompt : null, TemplateText.require(userText, "user message"));
    }

    @Override
    public String afterAssistantTurn() {
        return EOS;
    }

    @Override
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        List<ChatMessage> turns = TemplateText.alternatingTurns(messages, "Mistral");
        String system = TemplateText.leadingSystem(messages);
        StringBuilder text = new StringBuilder(BOS);
        for (int i = 0; i < turns.size(); i++) {
            String content = turns.get(i).content();
            text.append(i % 2 == 0 ? instruction(i == 0 ? system : null, content) : content + EOS);
        }
        // A user turn already ends with [/INST], the cue for the answer.
        return text.toString();
    }

    private static String instruction(String systemOrNull, String user) {
        return "[INST] " + (systemOrNull == null ? "" : systemOrNull + "\n\n") + user + " [/INST]";
    }
}
