package dev.winnow.engine.chat;

import java.util.List;

/**
 * A chat format, written out as text. For a chat that keeps its conversation in the KV cache, feed
 * {@link #beginConversation} once, then per exchange {@link #userTurn}, let the model generate (it writes what
 * {@link #assistantReply} describes and then emits EOS or one of the {@link #stopTokens()}, which is not fed), then
 * feed {@link #afterAssistantTurn()}. All pieces together equal {@link #render} of the same conversation.
 *
 * <p>The texts contain the format's special tokens (e.g. {@code <|im_start|>}, and {@code <s>} where the format
 * starts turns with BOS): encode them with special-token parsing on and without an extra BOS. Every piece that
 * the model reads starts with a special token, except in {@link PlainTemplate}.
 *
 * <p>A template object follows one conversation at a time (Llama 2 holds the system prompt until the first user
 * turn); {@link #detect} makes a new one each call.
 */
public interface ChatTemplate {

    /** A short name: "llama2", "llama3", "chatml", "mistral", "phi3", "gemma" or "plain". */
    String name();

    /** Starts a conversation: the text to feed first (may be empty). */
    String beginConversation(String systemPromptOrNull);

    /** A user message followed by what tells the model that the assistant answers now. */
    String userTurn(String userText, boolean firstTurn);

    /** How the format writes an assistant message: the text a model trained on it generates before it stops. */
    default String assistantReply(String content) {
        return TemplateText.require(content, "assistant message");
    }

    /** What follows the assistant's reply once the model stopped: the end-of-turn marker it did not feed. */
    String afterAssistantTurn();

    /** Texts of tokens that end an assistant turn besides EOS, e.g. {@code <|eot_id|>}. */
    default List<String> stopTokens() {
        return List.of();
    }

    /**
     * The whole conversation as the format's own (Jinja) template writes it.
     *
     * @param addGenerationPrompt end with the header that makes the assistant answer
     * @throws IllegalArgumentException for a conversation the format cannot express
     */
    String render(List<ChatMessage> messages, boolean addGenerationPrompt);

    /** Which template was picked for a model, and why (for a warning when it is only plain text). */
    record Detection(ChatTemplate template, boolean recognised, String reason) {
    }

    /**
     * Recognises the format of a {@code tokenizer.chat_template} by its distinctive markers, without running it.
     * Unknown or missing templates give {@link PlainTemplate}.
     */
    static Detection detect(String jinjaTemplateOrNull) {
        String source = jinjaTemplateOrNull == null ? "" : jinjaTemplateOrNull;
        if (source.isBlank()) {
            return new Detection(new PlainTemplate(), false,
                    "the model has no chat template (tokenizer.chat_template): plain text continuation");
        }
        if (source.contains("<|start_header_id|>") && source.contains("<|end_header_id|>")
                && source.contains("<|eot_id|>")) {
            return new Detection(HeaderTemplate.llama3(), true,
                    "the chat template uses <|start_header_id|> and <|eot_id|>: Llama 3 format");
        }
        if (source.contains("<|im_start|>") && source.contains("<|im_end|>")) {
            return new Detection(HeaderTemplate.chatMl(), true,
                    "the chat template uses <|im_start|> and <|im_end|>: ChatML format");
        }
        if (source.contains("[INST]") && source.contains("[/INST]")) {
            if (source.contains("<<SYS>>")) {
                return new Detection(new Llama2Template(), true,
                        "the chat template uses [INST] and <<SYS>>: Llama 2 format");
            }
            return new Detection(new MistralTemplate(), true,
                    "the chat template uses [INST] without <<SYS>>: Mistral format");
        }
        if (source.contains("<|assistant|>") && source.contains("<|end|>")) {
            return new Detection(HeaderTemplate.phi3(), true,
                    "the chat template uses <|assistant|> and <|end|>: Phi-3 format");
        }
        if (source.contains("<start_of_turn>") && source.contains("<end_of_turn>")) {
            return new Detection(HeaderTemplate.gemma(), true,
                    "the chat template uses <start_of_turn> and <end_of_turn>: Gemma format");
        }
        return new Detection(new PlainTemplate(), false, "the chat template is not one Winnow recognises (Llama 2, "
                + "Llama 3, ChatML, Mistral, Phi-3, Gemma): plain text continuation");
    }
}
