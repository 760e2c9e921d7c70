package dev.winnow.engine.serve;

/**
 * One sequence to generate: the prompt's token ids, how to generate, and token ids that end the text besides the
 * tokenizer's end-of-generation tokens (a chat template's end-of-turn marker).
 */
public record GenerationRequest(int[] prompt, GenerationParams params, int[] stopTokens) {
    public GenerationRequest {
        if (prompt == null || prompt.length == 0) {
            throw new IllegalArgumentException("the prompt has no tokens");
        }
        if (params == null) {
            throw new IllegalArgumentException("generation parameters are required");
        }
        prompt = prompt.clone();
        stopTokens = stopTokens == null ? new int[0] : stopTokens.clone();
    }
}
