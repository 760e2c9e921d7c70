package dev.winnow.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * The byte-level BPE tokenizer on small vocabularies built here: the 256 byte stand-ins (id = byte value), then the
 * tokens named by each test, then {@code <|endoftext|>} as a control token. Expected ids are worked out by hand
 * from the merge ranks.
 */
class ByteLevelBpeTokenizerTest {
    private static final String END_OF_TEXT = "<|endoftext|>";

    /** Tokens: bytes 0..255, then {@code extra} in order, then END_OF_TEXT; merges as given, first = rank 0. */
    private static Vocabulary vocabulary(String pre, List<String> extra, List<String> merges) {
        List<String> tokens = new ArrayList<>();
        List<Integer> types = new ArrayList<>();
        for (int b = 0; b < 256; b++) {
            tokens.add(String.valueOf(ByteLevelBpeTokenizer.BYTE_CHARS[b]));
            types.add(TokenType.NORMAL.code());
        }
        for (String token : extra) {
            tokens.add(token);
            types.add(TokenType.NORMAL.code());
        }
        tokens.add(END_OF_TEXT);
        types.add(TokenType.CONTROL.code());
        int eot = tokens.size() - 1;
        return new Vocabulary("gpt2", tokens.toArray(String[]::new), null,
                types.stream().mapToInt(Integer::intValue).toArray(), eot, eot, -1, false, false, false, null,
                merges.toArray(String[]::new), pre);
    }

    private static Tokenizer tokenizer(String pre, List<String> extra, List<String> merges) {
        return Tokenizer.of(vocabulary(pre, extra, merges));
    }

    @Example
    void mergesApplyInRankOrderNotLeftToRight() {
        // 256 = "bc" (rank 0), 257 = "ab" (rank 1), 258 = "abc" (rank 2: "a" + "bc").
        Tokenizer t = tokenizer("gpt-2", List.of("bc", "ab", "abc"), List.of("b c", "a b", "a bc"));
        assertArrayEquals(new int[] {258}, t.encode("abc", false, false));
        // Without the last merge, "bc" still wins over "ab".
        Tokenizer partial = tokenizer("gpt-2", List.of("bc", "ab"), List.of("b c", "a b"));
        assertArrayEquals(new int[] {'a', 256}, partial.encode("abc", false, false));
    }

    @Example
    void equalRanksMergeLeftmostFirst() {
        Tokenizer t = tokenizer("gpt-2", List.of("aa"), List.of("a a"));
        assertArrayEquals(new int[] {256, 'a'}, t.encode("aaa", false, false));
        assertArrayEquals(new int[] {256, 256}, t.encode("aaaa", false, false));
    }

    @Example
    void mergesStayInsideWordsAndSpacesAreStandIns() {
        // "Ġ" (U+0120) stands for the space byte 0x20.
        Tokenizer t = tokenizer("gpt-2", List.of("ab", "\u0120a", "\u0120ab"), List.of("\u0120 a", "a b", "\u0120a b"));
        assertArrayEquals(new int[] {256, 258}, t.encode("ab ab", false, false));
        assertEquals("ab ab", t.decode(new int[] {256, 258}));
        // "b a" is not merged across the word boundary even with a merge for it.
        Tokenizer across = tokenizer("gpt-2", List.of("ba"), List.of("b a"));
        assertArrayEquals(new int[] {'b', ' ', 'a'}, across.encode("b a", false, false));
    }

    @Example
    void charactersWithoutTokensAreSpelledByBytes() {
        Tokenizer t = tokenizer("gpt-2", List.of(), List.of());
        assertArrayEquals(new int[] {0xC3, 0xA9}, t.encode("\u00E9", false, false));
        assertArrayEquals(new int[] {0xF0, 0x9F, 0xA6, 0x99}, t.encode("\uD83E\uDD99", false, false));
        assertEquals("\uD83E\uDD99", t.decode(new int[] {0xF0, 0x9F, 0xA6, 0x99}));
    }

    @Example
    void controlTokensAreParsedOnlyWhenAskedAndDecodeToNothing() {
        Tokenizer t = tokenizer("gpt-2", List.of(), List.of());
        int eot = t.eos();
        int[] parsed = t.encode("a" + END_OF_TEXT, false, true);
        assertArrayEquals(new int[] {'a', eot}, parsed);
        assertEquals("a", t.decode(parsed));
        int[] literal = t.encode(END_OF_TEXT, false, false);
        assertEquals(END_OF_TEXT.length(), literal.length);
        assertEquals(END_OF_TEXT, t.decode(literal));
        assertTrue(t.isEndOfGeneration(eot));
        assertEquals(eot, t.specialTokenId(END_OF_TEXT).orElseThrow());
        assertEquals(END_OF_TEXT, t.piece(eot));
        assertEquals(" ", t.piece(' '));
    }

    @Example
    void addsBosOnlyWhenAsked() {
        Tokenizer t = tokenizer("gpt-2", List.of(), List.of());
        assertArrayEquals(new int[] {t.bos(), 'x'}, t.encode("x", true, false));
        assertArrayEquals(new int[] {'x'}, t.encode("x", false, false));
    }

    /** Llama 3 takes a word that is a token as that token, even when the merges would not build it. */
    @Example
    void llama3TakesWholeWordTokens() {
        List<String> extra = List.of("ab", "abc");
        List<String> merges = List.of("a b"); // no merge makes "abc"
        assertArrayEquals(new int[] {257}, tokenizer("llama-bpe", extra, merges).encode("abc", false, false));
        assertArrayEquals(new int[] {256, 'c'}, tokenizer("gpt-2", extra, merges).encode("abc", false, false));
    }

    @Example
    void badVocabulariesAreRefusedWithTheReason() {
        TokenizerException noMerges = assertThrows(TokenizerException.class,
                () -> Tokenizer.of(new Vocabulary("gpt2", new String[] {"a"}, null, null, -1, -1, -1, false, false,
                        false, null, null, null)));
        assertTrue(noMerges.getMessage().contains(Vocabulary.MERGES_KEY), noMerges.getMessage());
        TokenizerException badMerge = assertThrows(TokenizerException.class,
                () -> tokenizer("gpt-2", List.of(), List.of("ab")));
        assertTrue(badMerge.getMessage().contains("merge 0 'ab'"), badMerge.getMessage());
        TokenizerException unknownPre = assertThrows(TokenizerException.class,
                () -> tokenizer("no-such-pre", List.of(), List.of()));
        assertTrue(unknownPre.getMessage().contains("'no-such-pre'") && unknownPre.getMessage().contains("llama-bpe"),
                unknownPre.getMessage());
    }

    @Provide
    Arbitrary<String> preTokenizers() {
        return Arbitraries.of("default", "gpt-2", "llama-bpe", "qwen2", "smollm", "deepseek-llm", "deepseek-coder",
                "starcoder", "falcon");
    }

    @Provide
    Arbitrary<String> texts() {
        return UnicodeTexts.withoutSpaceMark();
    }

    /** Every byte has a token, so decoding gives any text back, whatever the pre-tokenizer and merges. */
    @Property(tries = 200)
    void decodingGivesAnyTextBack(@ForAll("preTokenizers") String pre, @ForAll("texts") String text) {
        Tokenizer t = tokenizer(pre, List.of("\u0120t", "he", "\u0120the", "\u00C3\u00A9"),
                List.of("\u0120 t", "h e", "\u0120t he", "\u00C3 \u00A9"));
        assertEquals(text, t.decode(t.encode(text, false, false)));
        assertEquals(text, t.decode(t.encode(text, true, true)));
    }

    /** The words of every pre-tokenizer are non-empty and are the text again when joined. */
    @Property(tries = 200)
    void preTokenizersCutTheWholeText(@ForAll("preTokenizers") String pre, @ForAll("texts") String text) {
        List<String> words = PreTokenizer.forName(pre).split(text);
        assertEquals(text, String.join("", words));
        assertFalse(words.stream().anyMatch(String::isEmpty));
    }

    /** Words worked out by hand from each pre-tokenizer's expressions. */
    @Example
    void preTokenizersCutWordsLikeTheModelsTokenizers() {
        assertEquals(List.of("Hello", " world", "'s", " ", " 123", "!!"),
                PreTokenizer.forName("gpt-2").split("Hello world's  123!!"));
        // GPT-2's contractions are lower case only; Llama 3's and Qwen 2's are any case.
        assertEquals(List.of("IT", "'", "S"), PreTokenizer.forName("gpt-2").split("IT'S"));
        assertEquals(List.of("IT", "'S"), PreTokenizer.forName("llama-bpe").split("IT'S"));
        // Llama 3 groups digits by three, Qwen 2 and StarCoder/SmolLM take them one by one.
        assertEquals(List.of("123", "456", "78"), PreTokenizer.forName("llama-bpe").split("12345678"));
        assertEquals(List.of("1", "2", "3"), PreTokenizer.forName("qwen2").split("123"));
        assertEquals(List.of("x", " ", "1", "2"), PreTokenizer.forName("smollm").split("x 12"));
        // Llama 3: a letter run takes one leading non-letter; newlines stay together.
        assertEquals(List.of("Hi", ",", " you", "\n\n", "ok"), PreTokenizer.forName("llama-bpe").split("Hi, you\n\nok"));
        // The default and Falcon cut punctuation runs first, and digits in threes.
        assertEquals(List.of("a", "...", "b", " ", "123", "4"), PreTokenizer.forName("default").split("a...b 1234"));
        // DeepSeek LLM: newlines alone, trailing spaces apart.
        assertEquals(List.of("ab", "\n", " cd", "  "), PreTokenizer.forName("deepseek-llm").split("ab\n cd  "));
        assertEquals(PreTokenizer.DEFAULT, PreTokenizer.forName(null));
    }

    @Example
    void llama3VocabulariesAddBosUnlessTheFileSaysOtherwise() {
        assertTrue(PreTokenizer.addsBosByDefault("llama-bpe"));
        assertFalse(PreTokenizer.addsBosByDefault("gpt-2"));
        assertFalse(PreTokenizer.addsBosByDefault(null));
    }
}
