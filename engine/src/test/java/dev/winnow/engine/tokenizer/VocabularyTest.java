package dev.winnow.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class VocabularyTest {
    private static final String[] TOKENS = {"<unk>", "<s>", "</s>", "<0x41>", "a"};

    private static Vocabulary vocabulary(String[] tokens, float[] scores, int[] types, int bos) {
        return new Vocabulary("llama", tokens, scores, types, bos, 2, 0, true, false, true, null, null, null);
    }

    private static void assertRejected(String message, Runnable construction) {
        assertEquals(message, assertThrows(TokenizerException.class, construction::run).getMessage());
    }

    @Test
    void namesWhatIsWrong() {
        assertRejected("the vocabulary has no tokens", () -> vocabulary(new String[0], null, null, -1));
        assertRejected("token 1 has no text", () -> vocabulary(new String[] {"a", null}, null, null, -1));
        assertRejected("the vocabulary has 5 tokens but 4 scores", () -> vocabulary(TOKENS, new float[4], null, 1));
        assertRejected("the score of token 2 is NaN",
                () -> vocabulary(TOKENS, new float[] {0, 0, Float.NaN, 0, 0}, null, 1));
        assertRejected("the vocabulary has 5 tokens but 6 token types",
                () -> vocabulary(TOKENS, null, new int[6], 1));
        assertRejected("token 4: token type code 9 is not one of 0..6",
                () -> vocabulary(TOKENS, null, new int[] {2, 3, 3, 6, 9}, 1));
        assertRejected("token 4 is typed as a byte but its text 'a' is not of the form <0xNN>",
                () -> vocabulary(TOKENS, null, new int[] {2, 3, 3, 6, 6}, 1));
        assertRejected("BOS id 5 is outside the vocabulary of 5 tokens", () -> vocabulary(TOKENS, null, null, 5));
        assertRejected("BOS id -2 is outside the vocabulary of 5 tokens", () -> vocabulary(TOKENS, null, null, -2));
    }

    @Test
    void infersTypesWhenTheyAreNotStored() {
        Vocabulary v = vocabulary(TOKENS, null, null, 1);
        assertEquals(TokenType.UNKNOWN, v.type(0));
        assertEquals(TokenType.CONTROL, v.type(1));
        assertEquals(TokenType.CONTROL, v.type(2));
        assertEquals(TokenType.BYTE, v.type(3));
        assertEquals(TokenType.NORMAL, v.type(4));
        assertEquals(0f, v.score(4));
    }

    @Test
    void readsByteTokenTexts() {
        assertEquals(0x0A, Vocabulary.byteValue("<0x0A>"));
        assertEquals(0xff, Vocabulary.byteValue("<0xff>"));
        assertEquals(-1, Vocabulary.byteValue("<0x0G>"));
        assertEquals(-1, Vocabulary.byteValue("<0x0A"));
        assertEquals(-1, Vocabulary.byteValue("<0x١٢>"));
    }
}
