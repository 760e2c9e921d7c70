package dev.winnow.engine.model;

import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * How a model family differs from Llama, as a small table rather than a forward pass per family. Every family
 * here is a pre-norm decoder transformer; a row names the family, its RoPE layout and the {@link Feature}s it has
 * beyond Llama's. The metadata keys of a family are prefixed with its {@code general.architecture} name.
 *
 * @param name     the {@code general.architecture} value
 * @param rope     which pairs of a head's dimensions rotate together
 * @param features what the family's blocks have that Llama's do not
 */
public record Architecture(String name, RopeStyle rope, Set<Feature> features) {

    /** The two layouts of rotary embeddings. */
    public enum RopeStyle {
        /** Dimensions (2i, 2i+1) of a head rotate together: Llama as GGUF stores it. */
        ADJACENT,
        /** Dimensions (i, i + ropeDim/2) rotate together: the "NeoX" layout of Qwen and Phi-3. */
        HALVES,
        /** No rotary embedding: positions are learned embeddings (GPT-2). */
        NONE
    }

    /** A difference from Llama's block. */
    public enum Feature {
        /** Biases on the query, key and value projections ({@code attn_q.bias}, ...). */
        QKV_BIAS,
        /** Each head's query and key RMS-normalised before RoPE ({@code attn_q_norm}, ...). */
        QK_NORM,
        /** Q, K and V in one matrix ({@code attn_qkv.weight}: query rows, key rows, value rows). */
        FUSED_QKV,
        /** Gate and up projections in one matrix ({@code ffn_up.weight}: gate rows, then up rows). */
        FUSED_GATE_UP,
        /** LayerNorm with a bias instead of RMSNorm. */
        LAYER_NORM,
        /** GPT-2's block: learned positions ({@code position_embd.weight}), output and feed-forward biases, GELU without a gate. */
        GPT2_BLOCKS
    }

    public static final Architecture LLAMA = new Architecture("llama", RopeStyle.ADJACENT, Set.of());
    public static final Architecture QWEN2 = new Architecture("qwen2", RopeStyle.HALVES, Set.of(Feature.QKV_BIAS));
    public static final Architecture QWEN3 = new Architecture("qwen3", RopeStyle.HALVES, Set.of(Feature.QK_NORM));
    public static final Architecture PHI3 = new Architecture("phi3", RopeStyle.HALVES,
            Set.of(Feature.FUSED_QKV, Feature.FUSED_GATE_UP));
    public static final Architecture GPT2 = new Architecture("gpt2", RopeStyle.NONE,
            Set.of(Feature.QKV_BIAS, Feature.FUSED_QKV, Feature.LAYER_NORM, Feature.GPT2_BLOCKS));

    public static final List<Architecture> SUPPORTED = List.of(LLAMA, QWEN2, QWEN3, PHI3, GPT2);

    public Architecture {
        features = Set.copyOf(features);
    }

    public boolean has(Feature feature) {
        return features.contains(feature);
    }

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
