package dev.winnow.engine.tokenizer;

import java.util.HexFormat;
import java.util.Optional;

import dev.winnow.gguf.GgufArray;
import dev.winnow.gguf.GgufMetadata;
import dev.winnow.gguf.GgufValue;
import dev.winnow.gguf.GgufValueType;

/**
 * A model's vocabulary as GGUF stores it under {@code tokenizer.ggml.*}. Ids index {@code tokens}; the
 * optional arrays run parallel to it. Absent special ids are -1. The arrays are shared, not copied:
 * treat them as read-only.
 *
 * @param model          {@code tokenizer.ggml.model}, which picks the algorithm ("llama" is SentencePiece)
 * @param tokens         the token texts
 * @param scores         merge priorities (SentencePiece), or null
 * @param tokenTypes     {@link TokenType} codes, or null to infer them (see {@link #type(int)})
 * @param bos            beginning-of-sequence id, or -1
 * @param eos            end-of-sequence id, or -1
 * @param unk            unknown-text id, or -1
 * @param addBos         whether prompts should start with BOS
 * @param addEos         whether encoded sequences should end with EOS
 * @param addSpacePrefix whether SentencePiece puts a space in front of the text
 * @param chatTemplate   {@code tokenizer.chat_template} (Jinja source), or null
 * @param merges         byte-level BPE merges, "left right", highest priority first ({@code tokenizer.ggml.merges}),
 *                       or null
 * @param preTokenizer   the name of the BPE pre-tokenizer ({@code tokenizer.ggml.pre}), or null
 */
public record Vocabulary(String model, String[] tokens, float[] scores, int[] tokenTypes, int bos, int eos,
                         int unk, boolean addBos, boolean addEos, boolean addSpacePrefix, String chatTemplate,
                         String[] merges, String preTokenizer) {
    public static final String MODEL_KEY = "tokenizer.ggml.model";
    public static final String TOKENS_KEY = "tokenizer.ggml.tokens";
    public static final String SCORES_KEY = "tokenizer.ggml.scores";
    public static final String TOKEN_TYPE_KEY = "tokenizer.ggml.token_type";
    public static final String BOS_KEY = "tokenizer.ggml.bos_token_id";
    public static final String EOS_KEY = "tokenizer.ggml.eos_token_id";
    public static final String UNK_KEY = "tokenizer.ggml.unknown_token_id";
    public static final String ADD_BOS_KEY = "tokenizer.ggml.add_bos_token";
    public static final String ADD_EOS_KEY = "tokenizer.ggml.add_eos_token";
    public static final String ADD_SPACE_PREFIX_KEY = "tokenizer.ggml.add_space_prefix";
    public static final String CHAT_TEMPLATE_KEY = "tokenizer.chat_template";
    public static final String MERGES_KEY = "tokenizer.ggml.merges";
    public static final String PRE_KEY = "tokenizer.ggml.pre";

    public Vocabulary {
        if (model == null || model.isBlank()) {
            throw new TokenizerException("the tokenizer model name is missing");
        }
        if (tokens == null || tokens.length == 0) {
            throw new TokenizerException("the vocabulary has no tokens");
        }
        for (int id = 0; id < tokens.length; id++) {
            if (tokens[id] == null) {
                throw new TokenizerException("token " + id + " has no text");
            }
        }
        if (scores != null) {
            requireParallel("scores", scores.length, tokens.length);
            for (int id = 0; id < scores.length; id++) {
                if (Float.isNaN(scores[id])) {
                    throw new TokenizerException("the score of token " + id + " is NaN");
                }
            }
        }
        if (tokenTypes != null) {
            requireParallel("token types", tokenTypes.length, tokens.length);
            for (int id = 0; id < tokenTypes.length; id++) {
                TokenType type;
                try {
                    type = TokenType.ofCode(tokenTypes[id]);
                } catch (IllegalArgumentException e) {
                    throw new TokenizerException("token " + id + ": " + e.getMessage());
                }
                if (type == TokenType.BYTE && byteValue(tokens[id]) < 0) {
                    throw new TokenizerException("token " + id + " is typed as a byte but its text '" + tokens[id]
                            + "' is not of the form <0xNN>");
                }
            }
        }
        requireIdOrAbsent("BOS", bos, tokens.length);
        requireIdOrAbsent("EOS", eos, tokens.length);
        requireIdOrAbsent("unknown-token", unk, tokens.length);
        if (merges != null) {
            for (int rank = 0; rank < merges.length; rank++) {
                if (merges[rank] == null) {
                    throw new TokenizerException("merge " + rank + " has no text");
                }
            }
        }
    }

    /**
     * The vocabulary stored in a GGUF file's metadata. Absent keys take llama.cpp's defaults: for SentencePiece
     * ("llama") BOS 1, EOS 2, unknown 0, BOS added, space prefix on; otherwise no special tokens and neither, except
     * that the Llama 3 pre-tokenizers add BOS.
     *
     * @throws TokenizerException naming the key that is missing, of the wrong type or inconsistent
     */
    public static Vocabulary fromGguf(GgufMetadata metadata) {
        String model = typed(MODEL_KEY, required(metadata, MODEL_KEY), GgufValueType.STRING).asString();
        String[] tokens = array(TOKENS_KEY, required(metadata, TOKENS_KEY), GgufValueType.STRING).strings();
        float[] scores = optionalArray(metadata, SCORES_KEY, tokens.length, GgufValueType.FLOAT32)
                .map(GgufArray::floats).orElse(null);
        int[] types = optionalArray(metadata, TOKEN_TYPE_KEY, tokens.length, GgufValueType.INT32, GgufValueType.UINT32)
                .map(GgufArray::ints).orElse(null);
        boolean sentencePiece = model.equals(SentencePieceTokenizer.MODEL);
        int bos = tokenId(metadata, BOS_KEY, sentencePiece ? 1 : -1, tokens.length);
        int eos = tokenId(metadata, EOS_KEY, sentencePiece ? 2 : -1, tokens.length);
        int unk = tokenId(metadata, UNK_KEY, sentencePiece ? 0 : -1, tokens.length);
        String[] merges = metadata.find(MERGES_KEY).map(value -> array(MERGES_KEY, value, GgufValueType.STRING).strings())
                .orElse(null);
        String pre = metadata.find(PRE_KEY).map(value -> typed(PRE_KEY, value, GgufValueType.STRING).asString()).orElse(null);
        boolean addBos = flag(metadata, ADD_BOS_KEY, sentencePiece || PreTokenizer.addsBosByDefault(pre));
        boolean addEos = flag(metadata, ADD_EOS_KEY, false);
        boolean addSpacePrefix = flag(metadata, ADD_SPACE_PREFIX_KEY, sentencePiece);
        String chatTemplate = metadata.find(CHAT_TEMPLATE_KEY)
                .map(value -> typed(CHAT_TEMPLATE_KEY, value, GgufValueType.STRING).asString()).orElse(null);
        try {
            return new Vocabulary(model, tokens, scores, types, bos, eos, unk, addBos, addEos, addSpacePrefix,
                    chatTemplate, merges, pre);
        } catch (TokenizerException e) {
            throw new TokenizerException("the GGUF vocabulary (tokenizer.ggml.*) is invalid: " + e.getMessage());
        }
    }

    private static GgufValue required(GgufMetadata metadata, String key) {
        return metadata.find(key).orElseThrow(() -> new TokenizerException("the GGUF metadata has no " + key));
    }

    /** The value, checked to be of {@code type}. */
    private static GgufValue typed(String key, GgufValue value, GgufValueType type) {
        if (value.type() != type) {
            throw new TokenizerException("%s must be %s %s, not %s"
                    .formatted(key, type == GgufValueType.ARRAY ? "an" : "a", type, value.type()));
        }
        return value;
    }

    private static Optional<GgufArray> optionalArray(GgufMetadata metadata, String key, int tokenCount,
                                                     GgufValueType... elementTypes) {
        return metadata.find(key).map(value -> {
            GgufArray array = array(key, value, elementTypes);
            if (array.size() != tokenCount) {
                throw new TokenizerException(key + " has " + array.size() + " entries but " + TOKENS_KEY + " has "
                        + tokenCount);
            }
            return array;
        });
    }

    private static GgufArray array(String key, GgufValue value, GgufValueType... elementTypes) {
        GgufArray array = typed(key, value, GgufValueType.ARRAY).asArray();
        for (GgufValueType allowed : elementTypes) {
            if (array.elementType() == allowed) {
                return array;
            }
        }
        throw new TokenizerException(key + " must be an array of " + elementTypes[0] + ", not of "
                + array.elementType());
    }

    private static int tokenId(GgufMetadata metadata, String key, int absent, int tokenCount) {
        Optional<GgufValue> found = metadata.find(key);
        if (found.isEmpty()) {
            return absent < tokenCount ? absent : -1;
        }
        GgufValue value = found.get();
        if (!value.type().isInteger()) {
            throw new TokenizerException(key + " must be an integer, not " + value.type());
        }
        // Stored bits of all ones mean "no such token" (llama.cpp writes UINT32 0xFFFFFFFF, some writers INT32 -1).
        long bits = ((Number) value.value()).longValue();
        boolean narrowUnsigned = value.type() == GgufValueType.UINT8 || value.type() == GgufValueType.UINT16;
        if (bits == -1 && !narrowUnsigned) {
            return -1;
        }
        if (value.type() == GgufValueType.UINT64 && bits < 0) {
            throw new TokenizerException(key + " is " + Long.toUnsignedString(bits) + ", outside the vocabulary of "
                    + tokenCount + " tokens");
        }
        long id = value.asLong();
        if (id < 0 || id >= tokenCount) {
            throw new TokenizerException(key + " is " + id + ", outside the vocabulary of " + tokenCount + " tokens");
        }
        return (int) id;
    }

    private static boolean flag(GgufMetadata metadata, String key, boolean absent) {
        return metadata.find(key).map(value -> typed(key, value, GgufValueType.BOOL).asBool()).orElse(absent);
    }

    public int size() {
        return tokens.length;
    }

    /** The score of a token; 0 for all when the vocabulary has none. */
    public float score(int id) {
        return scores == null ? 0f : scores[id];
    }

    /**
     * The type of a token. Without stored types: the unknown id is {@link TokenType#UNKNOWN}, BOS and EOS are
     * {@link TokenType#CONTROL}, {@code <0xNN>} texts are {@link TokenType#BYTE}, the rest {@link TokenType#NORMAL}.
     */
    public TokenType type(int id) {
        if (tokenTypes != null) {
            return TokenType.ofCode(tokenTypes[id]);
        }
        if (id == unk) {
            return TokenType.UNKNOWN;
        }
        if (id == bos || id == eos) {
            return TokenType.CONTROL;
        }
        return byteValue(tokens[id]) >= 0 ? TokenType.BYTE : TokenType.NORMAL;
    }

    /** The byte a {@code <0xNN>} text stands for (0..255), or -1 for any other text. */
    static int byteValue(String text) {
        boolean byteText = text.length() == 6 && text.startsWith("<0x") && text.charAt(5) == '>'
                && HexFormat.isHexDigit(text.charAt(3)) && HexFormat.isHexDigit(text.charAt(4));
        return byteText ? HexFormat.fromHexDigits(text, 3, 5) : -1;
    }

    private static void requireParallel(String what, int length, int tokenCount) {
        if (length != tokenCount) {
            throw new TokenizerException("the vocabulary has " + tokenCount + " tokens but " + length + " " + what);
        }
    }

    private static void requireIdOrAbsent(String what, int id, int tokenCount) {
        if (id < -1 || id >= tokenCount) {
            throw new TokenizerException(what + " id " + id + " is outside the vocabulary of " + tokenCount + " tokens");
        }
    }
}
