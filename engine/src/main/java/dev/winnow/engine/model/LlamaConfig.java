package dev.winnow.engine.model;

import dev.winnow.engine.kv.KvGeometry;
import dev.winnow.gguf.GgufFile;
import dev.winnow.gguf.GgufMetadata;
import dev.winnow.gguf.GgufValue;

import java.util.function.Supplier;

/**
 * The hyper-parameters of a Llama-style decoder (Llama or another family of {@link Architecture}), read from
 * the metadata keys prefixed with the file's {@code general.architecture}.
 *
 * @param contextLength  the context the model was trained for (the default limit of a session)
 * @param dim            width of the residual stream ({@code embedding_length})
 * @param layers         transformer blocks
 * @param ffnDim         hidden width of the SwiGLU feed-forward block
 * @param heads          query heads
 * @param kvHeads        key/value heads (grouped-query attention when fewer than {@code heads})
 * @param headDim        width of one head
 * @param ropeDim        leading dimensions of each head that RoPE rotates
 * @param ropeBase       RoPE frequency base
 * @param normEps        RMSNorm (or LayerNorm) epsilon
 * @param vocabularySize rows of the embedding matrix
 * @param architecture   how this family differs from Llama
 * @param ropePositionScale positions are divided by this before RoPE ({@code rope.scaling.type = linear} with
 *                       {@code rope.scaling.factor}); 1 without scaling
 * @param ropeFrequencyFactors per rotated pair, the divisor of its frequency ({@code rope_freqs.weight}, Llama 3.1
 *                       and later); null when the file has none. Inference and training read RoPE from here
 *                       alone, through {@link Rope}.
 */
public record LlamaConfig(int contextLength, int dim, int layers, int ffnDim, int heads, int kvHeads, int headDim,
                          int ropeDim, float ropeBase, float normEps, int vocabularySize, Architecture architecture,
                          float ropePositionScale, float[] ropeFrequencyFactors) {
    /**
     * The widest activation row (query heads, key heads, feed-forward, vocabulary): a pass of
     * {@link LlamaModel#MAX_ROWS} such rows is one Java array.
     */
    static final int MAX_WIDTH = (Integer.MAX_VALUE - 8) / LlamaModel.MAX_ROWS;

    public LlamaConfig {
        require(dim > 0 && layers > 0 && ffnDim > 0 && heads > 0 && kvHeads > 0 && headDim > 0 && vocabularySize > 0,
                "dimensions must be positive: dim %d, layers %d, ffn %d, heads %d, kv heads %d, head dim %d, vocabulary %d"
                        .formatted(dim, layers, ffnDim, heads, kvHeads, headDim, vocabularySize));
        require(contextLength > 0, "context_length must be positive, got " + contextLength);
        require(architecture != null, "the architecture is missing");
        require(ropePositionScale > 0, "the RoPE position scale must be positive, got " + ropePositionScale);
        requireWidth("head_count (%d) x key_length (%d)".formatted(heads, headDim), (long) heads * headDim);
        requireWidth("head_count_kv (%d) x key_length (%d)".formatted(kvHeads, headDim), (long) kvHeads * headDim);
        requireWidth("embedding_length", dim);
        requireWidth("feed_forward_length", ffnDim);
        requireWidth("the vocabulary size", vocabularySize);
        require(heads % kvHeads == 0,
                "head_count (%d) is not a multiple of head_count_kv (%d)".formatted(heads, kvHeads));
        require(ropeDim > 0 && ropeDim <= headDim && ropeDim % 2 == 0,
                "rope.dimension_count (%d) must be even and at most the head width (%d)".formatted(ropeDim, headDim));
        require(ropeBase > 0, "rope.freq_base must be positive, got " + ropeBase);
        require(ropeFrequencyFactors == null || ropeFrequencyFactors.length == ropeDim / 2,
                "rope_freqs.weight needs one factor per rotated pair (%d)".formatted(ropeDim / 2));
        require(normEps > 0, "attention.layer_norm_rms_epsilon must be positive, got " + normEps);
    }

    /** What a KV cache of this model keeps per token, for sequences of up to {@code capacity} tokens. */
    public KvGeometry kvGeometry(int capacity) {
        return new KvGeometry(layers, heads, kvHeads, headDim, capacity);
    }

    /** Width of the concatenated query heads. */
    public int queryDim() {
        return heads * headDim;
    }

    /** Width of the concatenated key (or value) heads of one token. */
    public int kvDim() {
        return kvHeads * headDim;
    }

    /**
     * Reads the configuration of a file of one of the {@link Architecture#SUPPORTED} families, from the keys
     * prefixed with its {@code general.architecture} name.
     *
     * @param vocabularySize the number of tokens, from the tokenizer (used when {@code llama.vocab_size} is absent)
     */
    public static LlamaConfig fromMetadata(GgufMetadata metadata, int vocabularySize) {
        String archName = metadata.find("general.architecture").map(GgufValue::asString)
                .orElseThrow(() -> new ModelLoadException("missing key general.architecture"));
        Architecture arch = Architecture.of(archName).orElseThrow(() -> new ModelLoadException(
                "unsupported architecture '%s' (general.architecture); Winnow runs: %s".formatted(archName,
                        String.join(", ", Architecture.SUPPORTED.stream().map(Architecture::name).toList()))));
        int dim = requiredInt(metadata, arch.key("embedding_length"));
        int heads = requiredInt(metadata, arch.key("attention.head_count"));
        int kvHeads = optionalInt(metadata, arch.key("attention.head_count_kv"), heads);
        require(heads > 0 && dim % heads == 0 || metadata.contains(arch.key("attention.key_length")),
                "embedding_length (%d) is not a multiple of head_count (%d)".formatted(dim, heads));
        int headDim = optionalInt(metadata, arch.key("attention.key_length"), heads > 0 ? dim / heads : 0);
        int valueDim = optionalInt(metadata, arch.key("attention.value_length"), headDim);
        require(valueDim == headDim, "attention.value_length (%d) differs from key_length (%d)".formatted(valueDim, headDim));
        return new LlamaConfig(
                requiredInt(metadata, arch.key("context_length")),
                dim,
                requiredInt(metadata, arch.key("block_count")),
                requiredInt(metadata, arch.key("feed_forward_length")),
                heads,
                kvHeads,
                headDim,
                optionalInt(metadata, arch.key("rope.dimension_count"), headDim),
                (float) optionalDouble(metadata, arch.key("rope.freq_base"), 10000.0),
                (float) optionalDouble(metadata, arch.key(arch.has(Architecture.Feature.LAYER_NORM) ? "attention.layer_norm_epsilon"
                        : "attention.layer_norm_rms_epsilon"), 1e-5),
                optionalInt(metadata, arch.key("vocab_size"), vocabularySize),
                arch,
                ropePositionScale(metadata, arch),
                null);
    }

    /** The configuration of a model file: its metadata ({@link #fromMetadata}) and its RoPE frequency factors. */
    public static LlamaConfig fromFile(GgufFile file, int vocabularySize) {
        LlamaConfig c = fromMetadata(file.metadata(), vocabularySize);
        if (file.tensor("rope_factors_long.weight").isPresent()) {
            throw new ModelLoadException("this model uses LongRoPE (rope_factors_long.weight / rope_factors_short.weight, "
                    + "as in Phi-3's 128k variants), which Winnow does not support yet");
        }
        if (file.tensor("rope_freqs.weight").isEmpty()) {
            return c;
        }
        return new LlamaConfig(c.contextLength, c.dim, c.layers, c.ffnDim, c.heads, c.kvHeads, c.headDim, c.ropeDim,
                c.ropeBase, c.normEps, c.vocabularySize, c.architecture, c.ropePositionScale,
                LlamaWeights.vector(file, "rope_freqs.weight", c.ropeDim / 2));
    }

    /** The linear RoPE scaling a file asks for; other kinds of scaling are refused by name. */
    private static float ropePositionScale(GgufMetadata metadata, Architecture arch) {
        String type = metadata.find(arch.key("rope.scaling.type")).map(GgufValue::asString).orElse("none");
        return switch (type) {
            case "none" -> 1f;
            case "linear" -> {
                float factor = (float) optionalDouble(metadata, arch.key("rope.scaling.factor"), 1.0);
                require(factor > 0, "rope.scaling.factor must be positive, got " + factor);
                yield factor;
            }
            default -> throw new ModelLoadException("RoPE scaling '%s' (%s) is not supported; Winnow reads none, linear, and the per-frequency factors of rope_freqs.weight"
                    .formatted(type, arch.key("rope.scaling.type")));
        };
    }

    private static int requiredInt(GgufMetadata metadata, String key) {
        GgufValue value = metadata.find(key).orElseThrow(() -> new ModelLoadException("missing key " + key));
        return read(key, value::asInt);
    }

    private static int optionalInt(GgufMetadata metadata, String key, int fallback) {
        return metadata.find(key).map(v -> read(key, v::asInt)).orElse(fallback);
    }

    private static double optionalDouble(GgufMetadata metadata, String key, double fallback) {
        return metadata.find(key).map(value -> read(key, value::asDouble)).orElse(fallback);
    }

    /** A metadata value as {@code reader} reads it; a value of the wrong type is an error naming the key. */
    private static <T> T read(String key, Supplier<T> reader) {
        try {
            return reader.get();
        } catch (RuntimeException e) {
            throw new ModelLoadException("key %s: %s".formatted(key, e.getMessage()));
        }
    }

    /** Header values multiply exactly: a width that would overflow, or not fit a block of activations, is refused. */
    private static void requireWidth(String what, long width) {
        if (width > MAX_WIDTH) {
            throw new ModelLoadException("%s is %d, more than the %d values per token Winnow supports"
                    .formatted(what, width, MAX_WIDTH));
        }
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new ModelLoadException(message);
        }
    }
}
