package dev.winnow.tests.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.List;

import dev.winnow.engine.tokenizer.TokenDecoder;
import dev.winnow.engine.tokenizer.Tokenizer;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AddLifecycleHook;
import net.jqwik.api.lifecycle.LifecycleContext;
import net.jqwik.api.lifecycle.SkipExecutionHook;

/**
 * On the real vocabularies (SentencePiece and byte-level BPE, those present and intact): decoding what was encoded
 * gives the text back, and streaming the ids one by one gives the same text in whole characters.
 */
@AddLifecycleHook(RealVocabularyRoundTripProperties.SkipWithoutVocabularies.class)
class RealVocabularyRoundTripProperties {
    private static final List<Tokenizer> TOKENIZERS =
            RealVocabularies.available(RealVocabularies.STORIES_260K, RealVocabularies.LLAMA_SPM, RealVocabularies.GPT2);

    /** Skips the properties, saying why, when no vocabulary could be loaded. */
    static final class SkipWithoutVocabularies implements SkipExecutionHook {
        @Override
        public SkipResult shouldBeSkipped(LifecycleContext context) {
            if (!TOKENIZERS.isEmpty()) {
                return SkipResult.doNotSkip();
            }
            String reason = "no intact vocabulary in the shared folder";
            System.err.println("skipped " + context.label() + ": " + reason);
            return SkipResult.skip(reason);
        }
    }

    @Provide
    Arbitrary<Tokenizer> tokenizers() {
        return Arbitraries.of(TOKENIZERS);
    }

    /**
     * Text built from fragments that stress tokenizers: ASCII, whitespace runs, CJK, combining marks, emoji
     * sequences (joiners, variation selectors, flags), NUL and U+FFFD, other BMP characters. U+2581 is left out:
     * SentencePiece writes spaces as that character, so it decodes to a space.
     */
    @Provide
    Arbitrary<String> texts() {
        Arbitrary<String> fragment = Arbitraries.oneOf(
                Arbitraries.strings().withCharRange(' ', '~').ofMaxLength(8),
                Arbitraries.strings().withChars(" \t\n\r").ofMinLength(1).ofMaxLength(5),
                Arbitraries.strings().withCharRange('\u4E00', '\u9FFF').ofMaxLength(4),
                Arbitraries.strings().withCharRange('\u0300', '\u036F').ofMaxLength(3).map(marks -> "e" + marks),
                Arbitraries.of("😀", "🦙", "👩‍💻", "😶‍🌫️", "🇫🇷", "✅", "Äpfel", "\u0000", "\uFFFD", "Cửa Việt", "нещо"),
                Arbitraries.strings().withCharRange('\u00A0', '\uD7FF').ofMaxLength(4)
                        .filter(text -> text.indexOf('\u2581') < 0));
        return fragment.list().ofMaxSize(8).map(fragments -> String.join("", fragments));
    }

    @Property(tries = 200)
    void decodingGivesTheTextBack(@ForAll("tokenizers") Tokenizer tokenizer, @ForAll("texts") String text) {
        assertEquals(text, tokenizer.decode(tokenizer.encode(text, true, false)));
        assertEquals(text, tokenizer.decode(tokenizer.encode(text, false, false)));
    }

    @Property(tries = 200)
    void streamingDecodesTheSameTextInWholeCharacters(@ForAll("tokenizers") Tokenizer tokenizer,
                                                      @ForAll("texts") String text) {
        int[] ids = tokenizer.encode(text, true, false);
        TokenDecoder decoder = tokenizer.decoder();
        StringBuilder streamed = new StringBuilder();
        for (int id : ids) {
            String chunk = decoder.next(id);
            if (!chunk.isEmpty()) {
                assertFalse(Character.isLowSurrogate(chunk.charAt(0)), "a chunk starts inside a character");
                assertFalse(Character.isHighSurrogate(chunk.charAt(chunk.length() - 1)), "a chunk ends inside one");
            }
            streamed.append(chunk);
        }
        assertEquals(tokenizer.decode(ids), streamed.append(decoder.flush()).toString());
    }
}
