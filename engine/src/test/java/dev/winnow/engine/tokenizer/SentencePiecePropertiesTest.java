package dev.winnow.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** The SentencePiece encoder against a plain quadratic re-statement of the algorithm, and the round trip. */
class SentencePiecePropertiesTest {

    record RandomVocabulary(List<String> pieces, List<Float> scores) {
        Vocabulary build() {
            return TestVocabularies.spm(true, pieces, scores);
        }

        /**
         * With "▁" as a token of its own, as real SentencePiece vocabularies have: without it a space is spelled
         * by the bytes of U+2581, which decode to that character (in llama.cpp too), not to a space.
         */
        Vocabulary buildWithSpaceMark() {
            List<String> withMark = new ArrayList<>(pieces);
            List<Float> withScore = new ArrayList<>(scores);
            withMark.add("\u2581");
            withScore.add(-5f);
            return TestVocabularies.spm(true, withMark, withScore);
        }
    }

    @Provide
    Arbitrary<RandomVocabulary> vocabularies() {
        Arbitrary<String> piece = Arbitraries.of("\u2581", "a", "b", "c").list().ofMinSize(1).ofMaxSize(4)
                .map(parts -> String.join("", parts));
        // Scores from a small set, so that ties (broken leftmost) happen often.
        return piece.list().ofMaxSize(30).flatMap(pieces -> Arbitraries.of(-1f, -2f, -3f).list()
                .ofSize(pieces.size()).map(scores -> new RandomVocabulary(pieces, scores)));
    }

    @Provide
    Arbitrary<String> texts() {
        return Arbitraries.strings().withChars("abc ").ofMaxLength(24);
    }

    @Property(tries = 300)
    void mergesLikeTheQuadraticReference(@ForAll("vocabularies") RandomVocabulary random, @ForAll("texts") String text) {
        Vocabulary vocabulary = random.build();
        assertArrayEquals(reference(vocabulary, text), Tokenizer.of(vocabulary).encode(text, false, false));
    }

    @Property(tries = 200)
    void decodingGivesTheTextBack(@ForAll("vocabularies") RandomVocabulary random,
                                  @ForAll("unicodeTexts") String text) {
        Tokenizer tokenizer = Tokenizer.of(random.buildWithSpaceMark());
        assertEquals(text, tokenizer.decode(tokenizer.encode(text, true, false)));
        assertEquals(text, tokenizer.decode(tokenizer.encode(text, false, false)));
    }

    @Provide
    Arbitrary<String> unicodeTexts() {
        return UnicodeTexts.withoutSpaceMark();
    }

    /**
     * Every adjacent pair is looked at again after each merge; the best-scoring one (leftmost on ties) merges.
     * Symbols that are no token become byte tokens.
     */
    private static int[] reference(Vocabulary vocabulary, String text) {
        if (text.isEmpty()) {
            return new int[0];
        }
        Map<String, Integer> ids = new HashMap<>();
        for (int id = 0; id < vocabulary.size(); id++) {
            if (vocabulary.type(id) == TokenType.NORMAL) {
                ids.put(vocabulary.tokens()[id], id);
            }
        }
        List<String> symbols = new ArrayList<>();
        (" " + text).replace(' ', '\u2581').codePoints().forEach(cp -> symbols.add(Character.toString(cp)));
        while (true) {
            int best = -1;
            float bestScore = 0;
            for (int i = 0; i + 1 < symbols.size(); i++) {
                Integer id = ids.get(symbols.get(i) + symbols.get(i + 1));
                if (id != null && (best < 0 || vocabulary.score(id) > bestScore)) {
                    best = i;
                    bestScore = vocabulary.score(id);
                }
            }
            if (best < 0) {
                break;
            }
            symbols.set(best, symbols.get(best) + symbols.remove(best + 1));
        }
        List<Integer> result = new ArrayList<>();
        for (String symbol : symbols) {
            Integer id = ids.get(symbol);
            if (id != null) {
                result.add(id);
            } else {
                for (byte b : symbol.getBytes(StandardCharsets.UTF_8)) {
                    result.add(3 + (b & 0xFF));
                }
            }
        }
        return result.stream().mapToInt(Integer::intValue).toArray();
    }
}
