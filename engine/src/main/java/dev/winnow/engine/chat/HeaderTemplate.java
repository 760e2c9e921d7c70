package dev.winnow.engine.chat;

import java.util.List;

/**
 * The formats that write each message as a role header, the content and an end marker:
 * Llama 3 ({@code <|begin_of_text|>} first, then
 * {@code <|start_header_id|>role<|end_header_id|>\n\n{content, trimmed}<|eot_id|>}) and ChatML (Qwen, SmolLM and
 * many fine-tunes: {@code <|im_start|>role\n{content}<|im_end|>\n}).
 */
final class HeaderTemplate implements ChatTemplate {
    private final String name;
    private final String beginOfText;
    private final String headerStart;
    private final String headerEnd;
    private final String endOfTurn;
    private final String afterEndOfTurn;
    private final boolean trimsContent;

    private HeaderTemplate(String name, String beginOfText, String headerStart, String headerEnd, String endOfTurn,
                           String afterEndOfTurn, boolean trimsContent) {
        this.name = name;
        this.beginOfText = beginOfText;
        this.headerStart = headerStart;
        this.headerEnd = headerEnd;
        this.endOfTurn = endOfTurn;
        this.afterEndOfTurn = afterEndOfTurn;
        this.trimsContent = trimsContent;
    }

    static HeaderTemplate llama3() {
        return new HeaderTemplate("llama3", "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>\n\n",
                "<|eot_id|>", "", true);
    }

    static HeaderTemplate chatMl() {
        return new HeaderTemplate("chatml", "", "<|im_start|>", "\n", "<|im_end|>", "\n", false);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String beginConversation(String systemPromptOrNull) {
        return systemPromptOrNull == null ? beginOfText : beginOfText + message(ChatMessage.SYSTEM, systemPromptOrNull);
    }

    @Override
    public String userTurn(String userText, boolean firstTurn) {
        return message(ChatMessage.USER, TemplateText.require(userText, "user message")) + header(ChatMessage.ASSISTANT);
    }

    @Override
    public String assistantReply(String content) {
        return content(TemplateText.require(content, "assistant message"));
    }

    @Override
    public String afterAssistantTurn() {
        return endOfTurn + afterEndOfTurn;
    }

    @Override
    public List<String> stopTokens() {
        return List.of(endOfTurn);
    }

    @Override
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        StringBuilder text = new StringBuilder();
        for (ChatMessage message : TemplateText.requireMessages(messages)) {
            if (text.isEmpty()) {
                text.append(beginOfText);
            }
            text.append(message(message.role(), message.content()));
        }
        if (addGenerationPrompt) {
            text.append(header(ChatMessage.ASSISTANT));
        }
        return text.toString();
    }

    private String message(String role, String content) {
        return header(role) + content(content) + endOfTurn + afterEndOfTurn;
    }

    private String header(String role) {
        return headerStart + role + headerEnd;
    }

    private String content(String content) {
        return trimsContent ? TemplateText.strip(content) : content;
    }
}
