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
    /** How a format writes its messages; the last flag puts the system prompt into the first user message. */
    private record Format(String name, String beginOfText, String headerStart, String headerEnd, String endOfTurn,
                          String afterEndOfTurn, boolean trimsContent, String assistantRole,
                          boolean systemInFirstUserTurn) {
    }

    private final Format format;
    /** With {@link Format#systemInFirstUserTurn}: the system prompt waiting for the first user turn. */
    private String pendingSystem;

    private HeaderTemplate(Format format) {
        this.format = format;
    }

    static HeaderTemplate llama3() {
        return new HeaderTemplate(new Format("llama3", "<|begin_of_text|>", "<|start_header_id|>",
                "<|end_header_id|>\n\n", "<|eot_id|>", "", true, ChatMessage.ASSISTANT, false));
    }

    static HeaderTemplate chatMl() {
        return new HeaderTemplate(new Format("chatml", "", "<|im_start|>", "\n", "<|im_end|>", "\n", false,
                ChatMessage.ASSISTANT, false));
    }

    static HeaderTemplate phi3() {
        return new HeaderTemplate(new Format("phi3", "", "<|", "|>\n", "<|end|>", "\n", false, ChatMessage.ASSISTANT,
                false));
    }

    static HeaderTemplate gemma() {
        return new HeaderTemplate(new Format("gemma", "<bos>", "<start_of_turn>", "\n", "<end_of_turn>", "\n", true,
                "model", true));
    }

    @Override
    public String name() {
        return format.name();
    }

    @Override
    public String beginConversation(String systemPromptOrNull) {
        if (format.systemInFirstUserTurn()) {
            pendingSystem = systemPromptOrNull;
            return format.beginOfText();
        }
        String system = systemPromptOrNull == null ? "" : message(ChatMessage.SYSTEM, "", systemPromptOrNull);
        return format.beginOfText() + system;
    }

    @Override
    public String userTurn(String userText, boolean firstTurn) {
        String prefix = firstTurn ? systemPrefix(pendingSystem) : "";
        String user = TemplateText.require(userText, "user message");
        return message(ChatMessage.USER, prefix, user) + header(format.assistantRole());
    }

    @Override
    public String assistantReply(String content) {
        return content(TemplateText.require(content, "assistant message"));
    }

    @Override
    public String afterAssistantTurn() {
        return format.endOfTurn() + format.afterEndOfTurn();
    }

    @Override
    public List<String> stopTokens() {
        return List.of(format.endOfTurn());
    }

    @Override
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        StringBuilder text = new StringBuilder(TemplateText.requireMessages(messages).isEmpty() ? "" : format.beginOfText());
        String heldSystem = null;
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage message = messages.get(i);
            if (format.systemInFirstUserTurn() && message.role().equals(ChatMessage.SYSTEM)) {
                if (i != 0) {
                    throw new IllegalArgumentException(format.name() + " takes a system message only first, but message "
                            + i + " is one");
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
            text.append(header(format.assistantRole()));
        }
        return text.toString();
    }

    private static String systemPrefix(String systemOrNull) {
        return systemOrNull == null ? "" : systemOrNull + "\n\n";
    }

    /** A whole message; {@code prefix} goes before the content, untrimmed (Gemma's system prompt). */
    private String message(String role, String prefix, String content) {
        String shownRole = role.equals(ChatMessage.ASSISTANT) ? format.assistantRole() : role;
        return header(shownRole) + prefix + content(content) + afterAssistantTurn();
    }

    private String header(String role) {
        return format.headerStart() + role + format.headerEnd();
    }

    private String content(String content) {
        return format.trimsContent() ? TemplateText.strip(content) : content;
    }
}
