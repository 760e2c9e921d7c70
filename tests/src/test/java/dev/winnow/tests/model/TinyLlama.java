package dev.winnow.tests.model;

import dev.winnow.engine.model.Architecture;
import dev.winnow.gguf.GgufArray;
import dev.winnow.gguf.GgufMetadata;
import dev.winnow.gguf.GgufValue;
import dev.winnow.gguf.GgufValueType;
import dev.winnow.gguf.GgufWriter;
import dev.winnow.tensors.GgmlType;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A random-weight Llama model small enough to check against a double-precision reference: its hyper-parameters,
 * its F32 weights as plain arrays, and a writer that saves it as GGUF with a tiny SentencePiece vocabulary.
 */
public record TinyLlama(int dim, int layers, int heads, int kvHeads, int ffnDim, int vocab, int context,
                        int ropeDim, float ropeBase, float eps, boolean tied, Map<String, float[]> tensors, Dcp dcp,
                        Architecture architecture, float ropeLinearScale) {

    /** A DCP pruning module: per layer W_qi and W_ki (r rows of dim values) and a bias. */
    public record Dcp(int rank, float[][] queries, float[][] keys, float[] bias) {
        public static Dcp random(long seed, int layers, int dim, int rank, double std, float[] bias) {
            SplittableRandom random = new SplittableRandom(seed);
            float[][] q = new float[layers][];
            float[][] k = new float[layers][];
            for (int l = 0; l < layers; l++) {
                q[l] = gaussian(random, rank * dim, std);
                k[l] = gaussian(random, rank * dim, std);
            }
            return new Dcp(rank, q, k, bias.clone());
        }

        private static float[] gaussian(SplittableRandom random, int n, double std) {
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = (float) (random.nextGaussian() * std);
            }
            return v;
        }
    }

    /** The same model carrying a pruning module. */
    public TinyLlama withDcp(Dcp module) {
        return new TinyLlama(dim, layers, heads, kvHeads, ffnDim, vocab, context, ropeDim, ropeBase, eps, tied, tensors, module,
                architecture, ropeLinearScale);
    }

    /**
     * The same model with RoPE scaling as long-context files store it: positions divided by {@code linear}
     * ({@code rope.scaling.type = linear}) and random per-frequency divisors in {@code rope_freqs.weight}.
     */
    public TinyLlama withRopeScaling(float linear, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        Map<String, float[]> t = new LinkedHashMap<>(tensors);
        float[] factors = new float[ropeDim / 2];
        for (int i = 0; i < factors.length; i++) {
            factors[i] = (float) (1 + 7 * random.nextDouble());
        }
        t.put("rope_freqs.weight", factors);
        return new TinyLlama(dim, layers, heads, kvHeads, ffnDim, vocab, context, ropeDim, ropeBase, eps, tied, t, dcp,
                architecture, linear);
    }

    /**
     * The same weights as a model of another family: the family's extra tensors (Qwen2's projection biases,
     * Qwen3's per-head norms) are drawn at random; fused matrices are written fused.
     */
    public TinyLlama as(Architecture family, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        Map<String, float[]> t = new LinkedHashMap<>(tensors);
        for (int l = 0; l < layers; l++) {
            String p = "blk." + l + ".";
            if (family.has(Architecture.Feature.QKV_BIAS)) {
                t.put(p + "attn_q.bias", values(random, heads * headDim(), 0.5));
                t.put(p + "attn_k.bias", values(random, kvHeads * headDim(), 0.5));
                t.put(p + "attn_v.bias", values(random, kvHeads * headDim(), 0.5));
            }
            if (family.has(Architecture.Feature.QK_NORM)) {
                t.put(p + "attn_q_norm.weight", norm(random, headDim()));
                t.put(p + "attn_k_norm.weight", norm(random, headDim()));
            }
            if (family.has(Architecture.Feature.LAYER_NORM)) {
                t.put(p + "attn_norm.bias", values(random, dim, 0.2));
                t.put(p + "ffn_norm.bias", values(random, dim, 0.2));
            }
            if (family.has(Architecture.Feature.GPT2_BLOCKS)) {
                t.remove(p + "ffn_gate.weight");
                t.put(p + "attn_output.bias", values(random, dim, 0.2));
                t.put(p + "ffn_up.bias", values(random, ffnDim, 0.2));
                t.put(p + "ffn_down.bias", values(random, dim, 0.2));
            }
        }
        if (family.has(Architecture.Feature.LAYER_NORM)) {
            t.put("output_norm.bias", values(random, dim, 0.2));
        }
        if (family.has(Architecture.Feature.GPT2_BLOCKS)) {
            t.put("position_embd.weight", values(random, dim * context, 1.0));
        }
        return new TinyLlama(dim, layers, heads, kvHeads, ffnDim, vocab, context, ropeDim, ropeBase, eps, tied, t, dcp,
                family, ropeLinearScale);
    }

    public int headDim() {
        return dim / heads;
    }

    /** Random weights; values scaled so activations stay O(1) through the layers. */
    public static TinyLlama random(long seed, int dim, int layers, int heads, int kvHeads, int ffnDim, int vocab,
                                   int context, int ropeDim, boolean tied) {
        SplittableRandom random = new SplittableRandom(seed);
        int headDim = dim / heads;
        Map<String, float[]> t = new LinkedHashMap<>();
        t.put("token_embd.weight", values(random, dim * vocab, 1.0));
        for (int l = 0; l < layers; l++) {
            String p = "blk." + l + ".";
            t.put(p + "attn_norm.weight", norm(random, dim));
            t.put(p + "attn_q.weight", values(random, dim * heads * headDim, 1 / Math.sqrt(dim)));
            t.put(p + "attn_k.weight", values(random, dim * kvHeads * headDim, 1 / Math.sqrt(dim)));
            t.put(p + "attn_v.weight", values(random, dim * kvHeads * headDim, 1 / Math.sqrt(dim)));
            t.put(p + "attn_output.weight", values(random, heads * headDim * dim, 1 / Math.sqrt(dim)));
            t.put(p + "ffn_norm.weight", norm(random, dim));
            t.put(p + "ffn_gate.weight", values(random, dim * ffnDim, 1 / Math.sqrt(dim)));
            t.put(p + "ffn_up.weight", values(random, dim * ffnDim, 1 / Math.sqrt(dim)));
            t.put(p + "ffn_down.weight", values(random, ffnDim * dim, 1 / Math.sqrt(ffnDim)));
        }
        t.put("output_norm.weight", norm(random, dim));
        if (!tied) {
            t.put("output.weight", values(random, dim * vocab, 1 / Math.sqrt(dim)));
        }
        return new TinyLlama(dim, layers, heads, kvHeads, ffnDim, vocab, context, ropeDim, 10000f, 1e-5f, tied, t, null,
                Architecture.LLAMA, 1f);
    }

    /** The ggml shape of a tensor: [cols, rows] for matrices, [n] for norms. */
    long[] shape(String name) {
        int headDim = headDim();
        String kind = name.substring(name.lastIndexOf('.', name.length() - ".weight".length() - 1) + 1);
        return switch (kind) {
            case "token_embd.weight", "output.weight" -> new long[] {dim, vocab};
            case "attn_norm.weight", "ffn_norm.weight", "output_norm.weight" -> new long[] {dim};
            case "attn_q.weight" -> new long[] {dim, (long) heads * headDim};
            case "attn_k.weight", "attn_v.weight" -> new long[] {dim, (long) kvHeads * headDim};
            case "attn_output.weight" -> new long[] {(long) heads * headDim, dim};
            case "ffn_gate.weight", "ffn_up.weight" -> new long[] {dim, ffnDim};
            case "ffn_down.weight" -> new long[] {ffnDim, dim};
            case "attn_q.bias" -> new long[] {(long) heads * headDim};
            case "attn_k.bias", "attn_v.bias" -> new long[] {(long) kvHeads * headDim};
            case "attn_q_norm.weight", "attn_k_norm.weight" -> new long[] {headDim};
            case "attn_norm.bias", "ffn_norm.bias", "attn_output.bias", "ffn_down.bias", "output_norm.bias" -> new long[] {dim};
            case "ffn_up.bias" -> new long[] {ffnDim};
            case "position_embd.weight" -> new long[] {dim, context};
            case "rope_freqs.weight" -> new long[] {ropeDim / 2};
            default -> throw new IllegalArgumentException(name);
        };
    }

    /** Writes the model as an F32 GGUF file with a vocabulary of BOS, EOS, UNK and single letters. */
    public void write(Path path) throws IOException {
        write(path, null);
    }

    /**
     * Writes the model with the tokenizer of a real vocabulary file (its {@code tokenizer.*} keys; the model's
     * vocabulary size must be the file's), or with a tiny made-up one when {@code vocabulary} is null.
     */
    public void write(Path path, GgufMetadata vocabulary) throws IOException {
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", architecture.name());
        w.putUInt32(architecture.key("context_length"), context);
        w.putUInt32(architecture.key("embedding_length"), dim);
        w.putUInt32(architecture.key("block_count"), layers);
        w.putUInt32(architecture.key("feed_forward_length"), ffnDim);
        w.putUInt32(architecture.key("attention.head_count"), heads);
        w.putUInt32(architecture.key("attention.head_count_kv"), kvHeads);
        w.putUInt32(architecture.key("rope.dimension_count"), ropeDim);
        w.putFloat32(architecture.key("rope.freq_base"), ropeBase);
        if (ropeLinearScale != 1f) {
            w.putString(architecture.key("rope.scaling.type"), "linear");
            w.putFloat32(architecture.key("rope.scaling.factor"), ropeLinearScale);
        }
        w.putFloat32(architecture.key(architecture.has(Architecture.Feature.LAYER_NORM) ? "attention.layer_norm_epsilon"
                : "attention.layer_norm_rms_epsilon"), eps);
        if (vocabulary != null) {
            vocabulary.asMap().forEach((key, value) -> {
                if (key.startsWith("tokenizer.")) {
                    w.put(key, value);
                }
            });
        } else {
            writeMadeUpVocabulary(w);
        }
        try (Arena arena = Arena.ofConfined()) {
            for (Map.Entry<String, float[]> e : tensors.entrySet()) {
                String name = e.getKey();
                if (architecture.has(Architecture.Feature.FUSED_QKV) && name.matches("blk\\.\\d+\\.attn_[qkv]\\.weight")) {
                    if (name.endsWith("attn_q.weight")) {
                        String p = name.substring(0, name.length() - "attn_q.weight".length());
                        float[] qkv = concat(e.getValue(), tensors.get(p + "attn_k.weight"), tensors.get(p + "attn_v.weight"));
                        w.addTensor(p + "attn_qkv.weight", GgmlType.F32,
                                new long[] {dim, (long) (heads + 2 * kvHeads) * headDim()}, segment(arena, qkv));
                    }
                    continue;
                }
                if (architecture.has(Architecture.Feature.FUSED_QKV) && name.matches("blk\\.\\d+\\.attn_[qkv]\\.bias")) {
                    if (name.endsWith("attn_q.bias")) {
                        String p = name.substring(0, name.length() - "attn_q.bias".length());
                        float[] qkv = concat(e.getValue(), tensors.get(p + "attn_k.bias"), tensors.get(p + "attn_v.bias"));
                        w.addTensor(p + "attn_qkv.bias", GgmlType.F32, new long[] {qkv.length}, segment(arena, qkv));
                    }
                    continue;
                }
                if (architecture.has(Architecture.Feature.FUSED_GATE_UP) && name.matches("blk\\.\\d+\\.ffn_(gate|up)\\.weight")) {
                    if (name.endsWith("ffn_gate.weight")) {
                        String p = name.substring(0, name.length() - "ffn_gate.weight".length());
                        w.addTensor(p + "ffn_up.weight", GgmlType.F32, new long[] {dim, 2L * ffnDim},
                                segment(arena, concat(e.getValue(), tensors.get(p + "ffn_up.weight"))));
                    }
                    continue;
                }
                w.addTensor(name, GgmlType.F32, shape(name), segment(arena, e.getValue()));
            }
            if (dcp != null) {
                w.put("winnow.dcp.interaction_dim", GgufValue.ofUInt32(dcp.rank()));
                for (int l = 0; l < layers; l++) {
                    w.addTensor("blk." + l + ".dcp_q.weight", GgmlType.F32, new long[] {dim, dcp.rank()}, segment(arena, dcp.queries()[l]));
                    w.addTensor("blk." + l + ".dcp_k.weight", GgmlType.F32, new long[] {dim, dcp.rank()}, segment(arena, dcp.keys()[l]));
                    w.addTensor("blk." + l + ".dcp_bias", GgmlType.F32, new long[] {1}, segment(arena, new float[] {dcp.bias()[l]}));
                }
            }
            w.write(path);
        }
    }

    private void writeMadeUpVocabulary(GgufWriter w) {
        String[] tokens = new String[vocab];
        float[] scores = new float[vocab];
        int[] types = new int[vocab];
        for (int i = 0; i < vocab; i++) {
            tokens[i] = switch (i) {
                case 0 -> "<unk>";
                case 1 -> "<s>";
                case 2 -> "</s>";
                default -> "\u2581" + i;
            };
            types[i] = i == 0 ? 2 : i < 3 ? 3 : 1;
        }
        w.put("tokenizer.ggml.model", GgufValue.ofString("llama"));
        w.put("tokenizer.ggml.tokens", GgufValue.ofArray(new GgufArray(GgufValueType.STRING, tokens)));
        w.put("tokenizer.ggml.scores", GgufValue.ofArray(new GgufArray(GgufValueType.FLOAT32, scores)));
        w.put("tokenizer.ggml.token_type", GgufValue.ofArray(new GgufArray(GgufValueType.INT32, types)));
        w.putUInt32("tokenizer.ggml.bos_token_id", 1);
        w.putUInt32("tokenizer.ggml.eos_token_id", 2);
        w.putUInt32("tokenizer.ggml.unknown_token_id", 0);
    }

    private static float[] concat(float[]... parts) {
        float[] all = new float[java.util.Arrays.stream(parts).mapToInt(a -> a.length).sum()];
        int at = 0;
        for (float[] part : parts) {
            System.arraycopy(part, 0, all, at, part.length);
            at += part.length;
        }
        return all;
    }

    private static MemorySegment segment(Arena arena, float[] v) {
        MemorySegment data = arena.allocate((long) v.length * Float.BYTES, 32);
        MemorySegment.copy(v, 0, data, ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, v.length);
        return data;
    }

    private static float[] values(SplittableRandom random, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) ((random.nextDouble() * 2 - 1) * Math.sqrt(3) * scale);
        }
        return v;
    }

    private static float[] norm(SplittableRandom random, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (0.5 + random.nextDouble());
        }
        return v;
    }
}
