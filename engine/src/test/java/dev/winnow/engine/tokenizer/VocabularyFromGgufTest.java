package dev.winnow.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.Consumer;

import dev.winnow.gguf.GgufArray;
import dev.winnow.gguf.GgufWriter;
import org.junit.jupiter.api.Test;

class VocabularyFromGgufTest {
    private static final String[] TOKENS = {"<unk>", "<s>", "</s>", "\u2581a"};

    /** A minimal SentencePiece vocabulary, changed by {@code edit}. */
    private static Vocabulary read(Consumer<GgufWriter> edit) {
        GgufWriter writer = new GgufWriter()
                .putString(Vocabulary.MODEL_KEY, "llama")
                .putArray(Vocabulary.TOKENS_KEY, GgufArray.ofStrings(TOKENS));
        edit.accept(writer);
        return Vocabulary.fromGguf(writer.metadata());
    }

    private static void assertRejected(String message, Consumer<GgufWriter> edit) {
        assertEquals(message, assertThrows(TokenizerException.class, () -> read(edit)).getMessage());
    }

    @Test
    void readsEveryKey() {
        Vocabulary v = read(w -> w
                .putArray(Vocabulary.SCORES_KEY, GgufArray.ofFloat32s(0f, 0f, 0f, -1.5f))
                .putArray(Vocabulary.TOKEN_TYPE_KEY, GgufArray.ofInt32s(2, 3, 3, 1))
                .putUInt32(Vocabulary.BOS_KEY, 1)
                .putUInt32(Vocabulary.EOS_KEY, 2)
                .putUInt32(Vocabulary.UNK_KEY, 0)
                .putBool(Vocabulary.ADD_BOS_KEY, false)
                .putBool(Vocabulary.ADD_EOS_KEY, true)
                .putBool(Vocabulary.ADD_SPACE_PREFIX_KEY, false)
                .putString(Vocabulary.CHAT_TEMPLATE_KEY, "{{ messages }}"));
        assertEquals("llama", v.model());
        assertArrayEquals(TOKENS, v.tokens());
        assertEquals(-1.5f, v.score(3));
        assertEquals(TokenType.UNKNOWN, v.type(0));
        assertEquals(1, v.bos());
        assertEquals(2, v.eos());
        assertEquals(0, v.unk());
        assertFalse(v.addBos());
        assertTrue(v.addEos());
        assertFalse(v.addSpacePrefix());
        assertEquals("{{ messages }}", v.chatTemplate());
    }

    @Test
    void takesLlamaCppDefaultsForSentencePiece() {
        Vocabulary v = read(w -> { });
        assertEquals(1, v.bos());
        assertEquals(2, v.eos());
        assertEquals(0, v.unk());
        assertTrue(v.addBos());
        assertFalse(v.addEos());
        assertTrue(v.addSpacePrefix());
        assertNull(v.scores());
        assertNull(v.tokenTypes());
        assertNull(v.chatTemplate());
    }

    @Test
    void allOnesMeansNoToken() {
        Vocabulary v = read(w -> w.putUInt32(Vocabulary.UNK_KEY, 0xFFFF_FFFF).putInt32(Vocabulary.BOS_KEY, -1));
        assertEquals(-1, v.unk());
        assertEquals(-1, v.bos());
    }

    @Test
    void namesTheKeyThatIsWrong() {
        assertEquals("the GGUF metadata has no tokenizer.ggml.tokens", assertThrows(TokenizerException.class,
                () -> Vocabulary.fromGguf(new GgufWriter().putString(Vocabulary.MODEL_KEY, "llama").metadata()))
                .getMessage());
        assertEquals("the GGUF metadata has no tokenizer.ggml.model", assertThrows(TokenizerException.class,
                () -> Vocabulary.fromGguf(new GgufWriter().metadata())).getMessage());
        assertRejected("tokenizer.ggml.model must be a STRING, not UINT32",
                w -> w.putUInt32(Vocabulary.MODEL_KEY, 1));
        assertRejected("tokenizer.ggml.tokens must be an array of STRING, not of INT32",
                w -> w.putArray(Vocabulary.TOKENS_KEY, GgufArray.ofInt32s(1, 2)));
        assertRejected("tokenizer.ggml.scores has 2 entries but tokenizer.ggml.tokens has 4",
                w -> w.putArray(Vocabulary.SCORES_KEY, GgufArray.ofFloat32s(0f, 0f)));
        assertRejected("tokenizer.ggml.token_type must be an ARRAY, not INT32",
                w -> w.putInt32(Vocabulary.TOKEN_TYPE_KEY, 1));
        assertRejected("tokenizer.ggml.eos_token_id is 4, outside the vocabulary of 4 tokens",
                w -> w.putUInt32(Vocabulary.EOS_KEY, 4));
        assertRejected("tokenizer.ggml.bos_token_id is 18446744073709551614, outside the vocabulary of 4 tokens",
                w -> w.putUInt64(Vocabulary.BOS_KEY, -2L));
        assertRejected("tokenizer.ggml.bos_token_id must be an integer, not STRING",
                w -> w.putString(Vocabulary.BOS_KEY, "1"));
        assertRejected("tokenizer.ggml.add_bos_token must be a BOOL, not UINT32",
                w -> w.putUInt32(Vocabulary.ADD_BOS_KEY, 1));
        assertRejected("the GGUF vocabulary (tokenizer.ggml.*) is invalid: token 3: token type code 7 is not one of "
                + "0..6", w -> w.putArray(Vocabulary.TOKEN_TYPE_KEY, GgufArray.ofInt32s(2, 3, 3, 7)));
    }

    /** Byte-level BPE: merges and the pre-tokenizer name are read; Llama 3 vocabularies add BOS unless told not to. */
    @Test
    void readsBpeMergesAndPreTokenizer() {
        Vocabulary llama3 = read(w -> w.putString(Vocabulary.MODEL_KEY, "gpt2")
                .putArray(Vocabulary.MERGES_KEY, GgufArray.ofStrings("\u2581 a"))
                .putString(Vocabulary.PRE_KEY, "llama-bpe"));
        assertArrayEquals(new String[] {"\u2581 a"}, llama3.merges());
        assertEquals("llama-bpe", llama3.preTokenizer());
        assertTrue(llama3.addBos());
        assertFalse(read(w -> w.putString(Vocabulary.MODEL_KEY, "gpt2").putString(Vocabulary.PRE_KEY, "llama-bpe")
                .putBool(Vocabulary.ADD_BOS_KEY, false)).addBos());
        Vocabulary gpt2 = read(w -> w.putString(Vocabulary.MODEL_KEY, "gpt2").putString(Vocabulary.PRE_KEY, "gpt-2"));
        assertFalse(gpt2.addBos());
        assertNull(gpt2.merges());
        assertRejected("tokenizer.ggml.merges must be an array of STRING, not of INT32",
                w -> w.putArray(Vocabulary.MERGES_KEY, GgufArray.ofInt32s(1)));
        assertRejected("tokenizer.ggml.pre must be a STRING, not BOOL", w -> w.putBool(Vocabulary.PRE_KEY, true));
    }
}
