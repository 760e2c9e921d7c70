package dev.winnow.engine.model;

import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * How a model family differs from Llama, as a small table rather than a forward pass per family. Every family
 * here is a pre-norm decoder transformer; they differ only in the columns below. The metadata keys of a family are
 * prefixed with its {@code general.architecture} name.
 *
 * @param name          the {@code general.architecture} value
 * @param rope          which pairs of a head's dimensions rotate together
 * @param qkvBias       whether the query, key and value projections have biases ({@code attn_q.bias}, ...)
 * @param qkNorm        whether each head's query and key are RMS-normalised before RoPE ({@code attn_q_norm}, ...)
 * @param fusedQkv      whether Q, K and V are one matrix ({@code attn_qkv.weight}: query rows, key rows, value rows)
 * @param fusedGateUp   whether the gate and up projections are one matrix ({@code ffn_up.weight}: gate rows, then up rows)
 * @param layerNorm     LayerNorm with a bias (GPT-2) instead of RMSNorm
 * @param gpt2Blocks    GPT-2's block: learned absolute positions ({@code position_embd.weight}) instead of RoPE,
 *                      biases on the attention output and the feed-forward matrices, and a GELU feed-forward
 *                      block ({@code ffn_up}, GELU, {@code ffn_down}) instead of the gated SiLU one
 */
public record Architecture(String name, RopeStyle rope, boolean qkvBias, boolean qkNorm, boolean fusedQkv,
                           boolean fusedGateUp, boolean layerNorm, boolean gpt2Blocks) {

    /** The two layouts of rotary embeddings. */
    public enum RopeStyle {
        /** Dimensions (2i, 2i+1) of a head rotate together: Llama as GGUF stores it. */
        ADJACENT,
        /** Dimensions (i, i + ropeDim/2) rotate together: the "NeoX" layout of Qwen and Phi-3. */
        HALVES,
        /** No rotary embedding: positions are learned embeddings (GPT-2). */
        NONE
    }

    public static final Architecture LLAMA = new Architecture("llama", RopeStyle.ADJACENT, false, false, false, false, false, false);
    public static final Architecture QWEN2 = new Architecture("qwen2", RopeStyle.HALVES, true, false, false, false, false, false);
    public static final Architecture QWEN3 = new Architecture("qwen3", RopeStyle.HALVES, false, true, false, false, false, false);
    public static final Architecture PHI3 = new Architecture("phi3", RopeStyle.HALVES, false, false, true, true, false, false);
    public static final Architecture GPT2 = new Architecture("gpt2", RopeStyle.NONE, true, false, true, false, true, true);

    public static final List<Architecture> SUPPORTED = List.of(LLAMA, QWEN2, QWEN3, PHI3, GPT2);

    /** The family of a {@code general.architecture} value, if Winnow runs it. */
    public static Optional<Architecture> of(String name) {
        String key = name.toLowerCase(Locale.ROOT);
        return SUPPORTED.stream().filter(a -> a.name.equals(key)).findFirst();
    }

    /** The metadata key {@code <name>.<suffix>}. */
    public String key(String suffix) {
        return name + "." + suffix;
    }
}
