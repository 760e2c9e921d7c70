package dev.winnow.engine.tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The pre-tokenizers of byte-level BPE vocabularies: how text is cut into words before merging, named by
 * {@code tokenizer.ggml.pre}. Each is a list of regular expressions applied one after the other, as llama.cpp does:
 * every expression cuts each piece left by the previous ones into its matches and the text between them (which is
 * kept as pieces too, never dropped). The expressions are the models' own ({@code tokenizer.json}), with Unicode
 * character classes ({@code \s} is Unicode White_Space); llama.cpp's spellings are kept where it adapted them
 * (case-insensitive contractions written out).
 */
enum PreTokenizer {
    DEFAULT(false, false, "[\\p{P}\\$\\+<=>\\^~\\|]+", Expressions.GPT2, "\\p{N}+", "[0-9][0-9][0-9]"),
    GPT2(false, false, Expressions.GPT2),
    LLAMA3(true, true, Expressions.LLAMA3),
    /** DBRX and Smaug: Llama 3's expression without its other rules. */
    LLAMA3_EXPRESSION(false, false, Expressions.LLAMA3),
    QWEN2(false, false, Expressions.LLAMA3.replace("\\p{N}{1,3}", "\\p{N}")),
    STARCODER(false, false, "\\p{N}", Expressions.GPT2),
    FALCON(false, false, "[\\p{P}\\$\\+<=>\\^~\\|`]+", Expressions.GPT2, "[0-9][0-9][0-9]"),
    DEEPSEEK_LLM(false, false, "[\r\n]",
            "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\uD801\uDC00-\uD801\uDC4F\uD801\uDCB0-\uD801\uDCD3\uD801\uDCD8-\uD801\uDCFB\uD803\uDC80-\uD803\uDCB2\uD803\uDCC0-\uD803\uDCF2\uD806\uDCA0-\uD806\uDCDF\uD83A\uDD00-\uD83A\uDD43]+",
            "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+",
            "\\s+\\z",
            "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+",
            "\\p{N}+"),
    DEEPSEEK_CODER(false, false, "[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+", "\\p{N}");

    /** The expressions shared by several pre-tokenizers. */
    private static final class Expressions {
        static final String GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
        static final String LLAMA3 = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
                + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    }

    /** {@code tokenizer.ggml.pre} values and their pre-tokenizers (the names llama.cpp knows for each). */
    private static final Map<String, PreTokenizer> BY_NAME = Map.ofEntries(
            Map.entry("default", DEFAULT),
            Map.entry("gpt-2", GPT2), Map.entry("phi-2", GPT2), Map.entry("mpt", GPT2), Map.entry("olmo", GPT2),
            Map.entry("jais", GPT2),
            Map.entry("llama3", LLAMA3), Map.entry("llama-v3", LLAMA3), Map.entry("llama-bpe", LLAMA3),
            Map.entry("falcon3", LLAMA3), Map.entry("pixtral", LLAMA3),
            Map.entry("dbrx", LLAMA3_EXPRESSION), Map.entry("smaug-bpe", LLAMA3_EXPRESSION),
            Map.entry("qwen2", QWEN2), Map.entry("deepseek-r1-qwen", QWEN2), Map.entry("stablelm2", QWEN2),
            Map.entry("starcoder", STARCODER), Map.entry("smollm", STARCODER), Map.entry("refact", STARCODER),
            Map.entry("command-r", STARCODER), Map.entry("codeshell", STARCODER), Map.entry("exaone", STARCODER),
            Map.entry("minerva-7b", STARCODER),
            Map.entry("falcon", FALCON),
            Map.entry("deepseek-llm", DEEPSEEK_LLM),
            Map.entry("deepseek-coder", DEEPSEEK_CODER));

    private final boolean ignoreMerges;
    private final boolean addsBos;
    private final Pattern[] expressions;

    PreTokenizer(boolean ignoreMerges, boolean addsBos, String... expressions) {
        this.ignoreMerges = ignoreMerges;
        this.addsBos = addsBos;
        this.expressions = Arrays.stream(expressions)
                .map(expression -> Pattern.compile(expression, Pattern.UNICODE_CHARACTER_CLASS)).toArray(Pattern[]::new);
    }

    /**
     * The pre-tokenizer a vocabulary names; none named (an old file) is {@link #DEFAULT}, as in llama.cpp.
     *
     * @throws TokenizerException for a name Winnow does not know
     */
    static PreTokenizer forName(String nameOrNull) {
        if (nameOrNull == null || nameOrNull.isEmpty()) {
            return DEFAULT;
        }
        return Optional.ofNullable(BY_NAME.get(nameOrNull)).orElseThrow(() -> new TokenizerException("the pre-tokenizer '"
                + nameOrNull + "' (" + Vocabulary.PRE_KEY + ") is not supported; supported: "
                + String.join(", ", new TreeSet<>(BY_NAME.keySet()))));
    }

    /** Whether a vocabulary with this pre-tokenizer name wants BOS when its file does not say (Llama 3 does). */
    static boolean addsBosByDefault(String nameOrNull) {
        PreTokenizer found = nameOrNull == null ? null : BY_NAME.get(nameOrNull);
        return found != null && found.addsBos;
    }

    /** Whether a word that is a token as a whole is taken as that token without merging (Llama 3). */
    boolean ignoresMerges() {
        return ignoreMerges;
    }

    /** The words of {@code text}: consecutive, non-empty, together the whole text. */
    List<String> split(String text) {
        List<int[]> pieces = new ArrayList<>();
        if (!text.isEmpty()) {
            pieces.add(new int[] {0, text.length()});
        }
        for (Pattern expression : expressions) {
            List<int[]> next = new ArrayList<>(pieces.size() * 2);
            Matcher matcher = expression.matcher(text);
            for (int[] piece : pieces) {
                matcher.region(piece[0], piece[1]);
                int position = piece[0];
                while (matcher.find()) {
                    if (matcher.end() == matcher.start()) {
                        continue;
                    }
                    addPiece(next, position, matcher.start());
                    addPiece(next, matcher.start(), matcher.end());
                    position = matcher.end();
                }
                addPiece(next, position, piece[1]);
            }
            pieces = next;
        }
        return pieces.stream().map(piece -> text.substring(piece[0], piece[1])).toList();
    }

    private static void addPiece(List<int[]> pieces, int start, int end) {
        if (end > start) {
            pieces.add(new int[] {start, end});
        }
    }
}
