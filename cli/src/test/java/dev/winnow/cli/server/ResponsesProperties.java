package dev.winnow.cli.server;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** A stream's text chunk built from its bytes around the text is, for any text, the JSON of its tree. */
class ResponsesProperties {

    @Property(tries = 500)
    void textChunkBytesAreTheTreesJson(@ForAll String text, @ForAll String model, @ForAll boolean chat,
                                       @ForAll boolean includeUsage) {
        Responses responses = new Responses(Replies.JSON, chat ? ParsedRequest.Kind.CHAT : ParsedRequest.Kind.COMPLETION,
                "cmpl-7", 1_700_000_000L, model.replace('\0', ' '));
        responses.textJson("warm-up <&>", includeUsage); // the bytes around the text are made on the first call
        assertArrayEquals(Replies.write(responses.text(text, includeUsage)), responses.textJson(text, includeUsage));
    }
}
