package dev.winnow.engine.tokenizer;

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
 */
public record Vocabulary(String model, String[] tokens, float[] scores, int[] tokenTypes, int bos, int eos,
                         int unk, boolean addBos, boolean addEos, boolean addSpacePrefix, String chatTemplate) {

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
        if (text.length() != 6 || !text.startsWith("<0x") || text.charAt(5) != '>') {
            return -1;
        }
        int high = hexDigit(text.charAt(3));
        int low = hexDigit(text.charAt(4));
        return high < 0 || low < 0 ? -1 : high << 4 | low;
    }

    private static int hexDigit(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
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
