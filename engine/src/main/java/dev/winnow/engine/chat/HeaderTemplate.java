package dev.winnow.engine.chat;

import java.util.List;

/**
 * The formats that write each message as a role header, the content and an end marker:
 * Llama 3 ({@code <|begin_of_text|>} first, then
 * {@code <|start_header_id|>role<|end_header_id|>\n\n{content, trimmed}<|eot_id|>}), ChatML (Qwen, SmolLM and
 * many fine-tunes: {@code <|im_start|>role\n{content}<|im_end|>\n}), Phi-3
 * ({@code <|role|>\n{content}<|end|>\n}) and Gemma ({@code <bos>} first, then
 * {@code <start_of_turn>role\n{content, trimmed}<end_of_turn>\n}, the assistant's role named "model"; Gemma has no
 * system role, so a system prompt and a blank line go in front of the first user message, as Gemma 3's template does).
 */
final class HeaderTemplate implements ChatTemplate {
    private final String name;
    private final String beginOfText;
    private final String headerStart;
    private final String headerEnd;
    private final String endOfTurn;
    private final String afterEndOfTurn;
    private final boolean trimsContent;
    private final String assistantRole;
    private final boolean systemInFirstUserTurn;
    /** With {@link #systemInFirstUserTurn}: the system prompt waiting for the first user turn. */
    private String pendingSystem;

    private HeaderTemplate(String name, String beginOfText, String headerStart, String headerEnd, String endOfTurn,
                           String afterEndOfTurn, boolean trimsContent, String assistantRole,
                           boolean systemInFirstUserTurn) {
        this.name = name;
        this.beginOfText = beginOfText;
        this.headerStart = headerStart;
        this.headerEnd = headerEnd;
        this.endOfTurn = endOfTurn;
        this.afterEndOfTurn = afterEndOfTurn;
        this.trimsContent = trimsContent;
        this.assistantRole = assistantRole;
        this.systemInFirstUserTurn = systemInFirstUserTurn;
    }

    static HeaderTemplate llama3() {
        return new HeaderTemplate("llama3", "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>\n\n",
                "<|eot_id|>", "", true, ChatMessage.ASSISTANT, false);
    }

    static HeaderTemplate chatMl() {
        return new HeaderTemplate("chatml", "", "<|im_start|>", "\n", "<|im_end|>", "\n", false, ChatMessage.ASSISTANT,
                false);
    }

    static HeaderTemplate phi3() {
        return new HeaderTemplate("phi3", "", "<|", "|>\n", "<|end|>", "\n", false, ChatMessage.ASSISTANT, false);
    }

    static HeaderTemplate gemma() {
        return new HeaderTemplate("gemma", "<bos>", "<start_of_turn>", "\n", "<end_of_turn>", "\n", true, "model", true);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String beginConversation(String systemPromptOrNull) {
        if (systemInFirstUserTurn) {
            pendingSystem = systemPromptOrNull;
            return beginOfText;
        }
        return systemPromptOrNull == null ? beginOfText : beginOfText + message(ChatMessage.SYSTEM, "", systemPromptOrNull);
    }

    @Override
    public String userTurn(String userText, boolean firstTurn) {
        String prefix = firstTurn ? systemPrefix(pendingSystem) : "";
        return message(ChatMessage.USER, prefix, TemplateText.require(userText, "user message")) + header(assistantRole);
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
        String heldSystem = null;
        for (int i = 0; i < TemplateText.requireMessages(messages).size(); i++) {
            ChatMessage message = messages.get(i);
            if (text.isEmpty()) {
                text.append(beginOfText);
            }
            if (systemInFirstUserTurn && message.role().equals(ChatMessage.SYSTEM)) {
                if (i != 0) {
                    throw new IllegalArgumentException(name + " takes a system message only first, but message " + i
                            + " is one");
                }
                heldSystem = message.content();
                continue;
            }
            String prefix = message.role().equals(ChatMessage.USER) ? systemPrefix(heldSystem) : "";
            if (message.role().equals(ChatMessage.USER)) {
                heldSystem = null;
            }
            text.append(message(message.role(), prefix, message.content()));
        }
        if (addGenerationPrompt) {
            text.append(header(assistantRole));
        }
        return text.toString();
    }

    private static String systemPrefix(String systemOrNull) {
        return systemOrNull == null ? "" : systemOrNull + "\n\n";
    }

    /** A whole message; {@code prefix} goes before the content, untrimmed (Gemma's system prompt). */
    private String message(String role, String prefix, String content) {
        String shownRole = role.equals(ChatMessage.ASSISTANT) ? assistantRole : role;
        return header(shownRole) + prefix + content(content) + endOfTurn + afterEndOfTurn;
    }

    private String header(String role) {
        return headerStart + role + headerEnd;
    }

    private String content(String content) {
        return trimsContent ? TemplateText.strip(content) : content;
    }
}
