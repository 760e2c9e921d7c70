package dev.winnow.engine.tokenizer;

import static dev.winnow.engine.tokenizer.TestVocabularies.BOS;
import static dev.winnow.engine.tokenizer.TestVocabularies.EOS;
import static dev.winnow.engine.tokenizer.TestVocabularies.FIRST_PIECE_WITH_BYTES;
import static dev.winnow.engine.tokenizer.TestVocabularies.UNK;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;

import org.junit.jupiter.api.Test;

/** Hand-checked cases on a tiny vocabulary whose merges are easy to follow. */
class SentencePieceTokenizerTest {
    // Pieces after <unk>, <s>, </s> and the 256 byte tokens.
    private static final List<String> PIECES = List.of("\u2581", "a", "b", "c", "ab", "bc", "\u2581a", "aa");
    private static final List<Float> SCORES = List.of(-10f, -10f, -10f, -10f, -2f, -1f, -3f, -5f);
    private static final int SPACE = FIRST_PIECE_WITH_BYTES;
    private static final int A = SPACE + 1;
    private static final int B = SPACE + 2;
    private static final int AB = SPACE + 4;
    private static final int BC = SPACE + 5;
    private static final int SPACE_A = SPACE + 6;
    private static final int AA = SPACE + 7;

    private final Tokenizer tokenizer = Tokenizer.of(TestVocabularies.spm(true, PIECES, SCORES));

    private static int byteToken(int value) {
        return 3 + value;
    }

    @Test
    void mergesTheHighestScoringPairFirst() {
        // "▁abc": bc (-1) beats ab (-2) and ▁a (-3); then ▁a merges; "▁abc" is no token.
        assertArrayEquals(new int[] {SPACE_A, BC}, tokenizer.encode("abc", false, false));
    }

    @Test
    void breaksScoreTiesTowardsTheLeft() {
        // "▁baaa": both "aa" pairs score -5; the left one merges first.
        assertArrayEquals(new int[] {SPACE, B, AA, A}, tokenizer.encode("baaa", false, false));
    }

    @Test
    void spellsUnknownCharactersAsBytes() {
        assertArrayEquals(new int[] {SPACE, byteToken(0xC3), byteToken(0xA9)}, tokenizer.encode("é", false, false));
    }

    @Test
    void usesTheUnknownTokenWithoutByteTokens() {
        Tokenizer noBytes = Tokenizer.of(TestVocabularies.spm(false, PIECES, SCORES));
        int space = 3;
        assertArrayEquals(new int[] {space, UNK, UNK}, noBytes.encode("é😀", false, false));
    }

    @Test
    void failsClearlyWhenACharacterCannotBeSpelled() {
        Vocabulary v = TestVocabularies.spm(false, PIECES, SCORES);
        Tokenizer noFallback = Tokenizer.of(new Vocabulary(v.model(), v.tokens(), v.scores(), v.tokenTypes(), BOS, EOS,
                -1, true, false, true, null, null, null));
        TokenizerException e = assertThrows(TokenizerException.class, () -> noFallback.encode("aé", false, false));
        assertTrue(e.getMessage().contains("'é' (U+E9)"), e.getMessage());
    }

    @Test
    void addsBosOnlyWhenAsked() {
        assertArrayEquals(new int[] {BOS}, tokenizer.encode("", true, false));
        assertArrayEquals(new int[0], tokenizer.encode("", false, false));
        // "▁ab": ab (-2) merges before ▁a (-3) could; "▁ab" is no token.
        assertArrayEquals(new int[] {BOS, SPACE, AB}, tokenizer.encode("ab", true, false));
    }

    @Test
    void putsNoSpaceInFrontWhenTheVocabularySaysSo() {
        Vocabulary v = TestVocabularies.spm(true, PIECES, SCORES);
        Tokenizer plain = Tokenizer.of(new Vocabulary(v.model(), v.tokens(), v.scores(), v.tokenTypes(), BOS, EOS, UNK,
                true, false, false, null, null, null));
        assertArrayEquals(new int[] {AB}, plain.encode("ab", false, false));
        assertEquals("ab", plain.decode(new int[] {AB}));
    }

    @Test
    void parsesControlTokensOnlyWhenAskedAndPrefixesTheTextAfterThem() {
        assertArrayEquals(new int[] {SPACE_A, EOS, SPACE, B}, tokenizer.encode("a</s>b", false, true));
        int[] literal = tokenizer.encode("a</s>b", false, false);
        assertFalse(Arrays.stream(literal).anyMatch(id -> id == EOS), Arrays.toString(literal));
        assertEquals("a</s>b", tokenizer.decode(literal));
    }

    @Test
    void splitsUserDefinedTokensEvenWithoutParsingSpecialTokens() {
        Vocabulary v = TestVocabularies.spm(true, PIECES, SCORES);
        String[] tokens = Arrays.copyOf(v.tokens(), v.size() + 1);
        tokens[v.size()] = "<tool>";
        int[] types = Arrays.copyOf(v.tokenTypes(), v.size() + 1);
        types[v.size()] = TokenType.USER_DEFINED.code();
        Tokenizer withTool = Tokenizer.of(new Vocabulary("llama", tokens, Arrays.copyOf(v.scores(), v.size() + 1),
                types, BOS, EOS, UNK, true, false, true, null, null, null));
        int tool = v.size();
        assertArrayEquals(new int[] {SPACE_A, tool, SPACE, B}, withTool.encode("a<tool>b", false, false));
        assertEquals(OptionalInt.of(tool), withTool.specialTokenId("<tool>"));
        assertEquals("<tool>", withTool.piece(tool));
        assertEquals("a<tool> b", withTool.decode(withTool.encode("a<tool>b", false, false)));
    }

    @Test
    void decodesWithoutThePrefixSpaceAtTheStartAndAfterBos() {
        assertEquals("abc", tokenizer.decode(new int[] {BOS, SPACE_A, BC}));
        assertEquals("abc", tokenizer.decode(new int[] {SPACE_A, BC}));
        assertEquals("b a", tokenizer.decode(new int[] {B, SPACE_A}));
        assertEquals("a" + "a", tokenizer.decode(new int[] {SPACE_A, BOS, SPACE_A}));
        assertEquals("", tokenizer.decode(new int[] {BOS, EOS, UNK}));
    }

    @Test
    void describesTokens() {
        assertEquals(" a", tokenizer.piece(SPACE_A));
        assertEquals("<s>", tokenizer.piece(BOS));
        assertEquals("<0x0A>", tokenizer.piece(byteToken(0x0A)));
        assertEquals(OptionalInt.of(EOS), tokenizer.specialTokenId("</s>"));
        assertEquals(OptionalInt.empty(), tokenizer.specialTokenId("ab"));
        assertTrue(tokenizer.isEndOfGeneration(EOS));
        assertFalse(tokenizer.isEndOfGeneration(BOS));
        assertEquals(PIECES.size() + 259, tokenizer.vocabularySize());
        assertThrows(IllegalArgumentException.class, () -> tokenizer.piece(-1));
    }

    @Test
    void stopsOnEndOfTurnMarkers() {
        Vocabulary v = TestVocabularies.spm(false, List.of("<|im_end|>", "<|endoftext|>"), List.of(0f, 0f));
        int[] types = v.tokenTypes().clone();
        types[3] = TokenType.CONTROL.code(); // <|im_end|> as a control token; <|endoftext|> stays normal text
        Tokenizer chat = Tokenizer.of(new Vocabulary("llama", v.tokens(), v.scores(), types, BOS, EOS, UNK, true,
                false, true, null, null, null));
        assertTrue(chat.isEndOfGeneration(3));
        assertFalse(chat.isEndOfGeneration(4));
    }

    @Test
    void rejectsUnsupportedModelsByName() {
        Vocabulary v = TestVocabularies.spm(true, PIECES, SCORES);
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizer.of(new Vocabulary("bert",
                v.tokens(), null, null, -1, -1, -1, false, false, false, null, null, null)));
        assertTrue(e.getMessage().contains("'bert'"), e.getMessage());
    }
}
