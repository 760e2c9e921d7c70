package dev.winnow.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

class TokenDecoderTest {
    private static final List<String> PIECES = List.of("\u2581", "a", "b", "\u2581a", "\u2581b", "ab", "é");
    private static final int A = TestVocabularies.FIRST_PIECE_WITH_BYTES + 1;
    private static final Tokenizer TOKENIZER =
            Tokenizer.of(TestVocabularies.spm(true, PIECES, List.of(-1f, -1f, -1f, -2f, -2f, -3f, -1f)));

    private static int byteToken(int value) {
        return 3 + value;
    }

    @Test
    void holdsACharacterBackUntilAllItsBytesArrived() {
        TokenDecoder decoder = TOKENIZER.decoder();
        assertEquals("a", decoder.next(A));
        assertEquals("", decoder.next(byteToken(0xF0)));
        assertEquals("", decoder.next(byteToken(0x9F)));
        assertEquals("", decoder.next(byteToken(0x98)));
        assertEquals("😀", decoder.next(byteToken(0x80)));
        assertEquals("", decoder.flush());
    }

    @Test
    void turnsBytesThatFormNoCharacterIntoReplacementCharacters() {
        TokenDecoder decoder = TOKENIZER.decoder();
        assertEquals("", decoder.next(byteToken(0xE2)));
        assertEquals("\uFFFDa", decoder.next(A));
        assertEquals("\uFFFD", decoder.next(byteToken(0xFF)));
        assertEquals("", decoder.next(byteToken(0xF0)));
        assertEquals("", decoder.next(byteToken(0x9F)));
        assertEquals("\uFFFD", decoder.flush());
        assertEquals("a", decoder.next(A));
    }

    @Test
    void rejectsIdsOutsideTheVocabulary() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TOKENIZER.decoder().next(TOKENIZER.vocabularySize()));
        assertEquals("token id 266 is outside the vocabulary of 266 tokens", e.getMessage());
    }

    @Provide
    Arbitrary<int[]> idStreams() {
        return Arbitraries.integers().between(3, TOKENIZER.vocabularySize() - 1).array(int[].class).ofMaxSize(40);
    }

    /** Any ids, streamed: all bytes arrive, as whole characters; the result is Java's own decoding of the bytes. */
    @Property(tries = 300)
    void streamingLosesNoByteAndSplitsNoCharacter(@ForAll("idStreams") int[] ids) {
        // Starting with "a" keeps the prefix-space rule out of the byte accounting.
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        bytes.writeBytes("a".getBytes(StandardCharsets.UTF_8));
        TokenDecoder decoder = TOKENIZER.decoder();
        StringBuilder streamed = new StringBuilder(decoder.next(A));
        for (int id : ids) {
            String text = TOKENIZER.piece(id);
            int value = Vocabulary.byteValue(text);
            bytes.writeBytes(value >= 0 ? new byte[] {(byte) value} : text.getBytes(StandardCharsets.UTF_8));
            String chunk = decoder.next(id);
            assertWholeCharacters(chunk);
            streamed.append(chunk);
        }
        String rest = decoder.flush();
        assertWholeCharacters(rest);
        assertEquals(new String(bytes.toByteArray(), StandardCharsets.UTF_8), streamed.append(rest).toString());
    }

    @Property(tries = 200)
    void streamingEqualsWholeDecoding(@ForAll("unicodeTexts") String text) {
        int[] ids = TOKENIZER.encode(text, true, false);
        TokenDecoder decoder = TOKENIZER.decoder();
        StringBuilder streamed = new StringBuilder();
        for (int id : ids) {
            String chunk = decoder.next(id);
            assertWholeCharacters(chunk);
            streamed.append(chunk);
        }
        streamed.append(decoder.flush());
        assertEquals(TOKENIZER.decode(ids), streamed.toString());
        assertEquals(text, streamed.toString());
    }

    @Provide
    Arbitrary<String> unicodeTexts() {
        return UnicodeTexts.withoutSpaceMark();
    }

    private static void assertWholeCharacters(String chunk) {
        if (!chunk.isEmpty()) {
            assertFalse(Character.isLowSurrogate(chunk.charAt(0)), "chunk starts inside a character");
            assertFalse(Character.isHighSurrogate(chunk.charAt(chunk.length() - 1)), "chunk ends inside a character");
        }
    }
}
