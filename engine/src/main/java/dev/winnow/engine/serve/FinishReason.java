package dev.winnow.engine.serve;

import java.util.Locale;

/** Why a sequence stopped generating, and the OpenAI {@code finish_reason} that reports it. */
public enum FinishReason {
    /** The model emitted an end-of-generation (or end-of-turn) token. */
    END_OF_GENERATION("stop"),
    /** The text reached a stop string. */
    STOP_SEQUENCE("stop"),
    /** The request's token limit. */
    TOKEN_LIMIT("length"),
    /** The sequence filled the context. */
    CONTEXT_FULL("length"),
    /** The shared KV page pool had no page left for the next token. */
    KV_BUDGET_FULL("length");

    private final String openAiName;

    FinishReason(String openAiName) {
        this.openAiName = openAiName;
    }

    /** "stop" or "length". */
    public String openAiName() {
        return openAiName;
    }

    /** The name used in metrics, e.g. {@code kv_budget_full}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
