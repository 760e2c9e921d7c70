package dev.winnow.engine.tokenizer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** The one reader of text files given to commands (prompts, texts to tokenize or measure): strict UTF-8. */
public final class TextFile {
    private TextFile() {
    }

    /**
     * The file's text.
     *
     * @throws TextFileException if it is not valid UTF-8, naming the file and the byte offset of the first bad byte
     * @throws IOException       if it cannot be read
     */
    public static String readUtf8(Path file) throws IOException {
        ByteBuffer in = ByteBuffer.wrap(Files.readAllBytes(file));
        CharBuffer out = CharBuffer.allocate(in.remaining());
        CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        CoderResult result = utf8.decode(in, out, true);
        if (!result.isError()) {
            result = utf8.flush(out);
        }
        if (result.isError()) {
            throw new TextFileException("%s is not valid UTF-8: byte 0x%02X at offset %d"
                    .formatted(file, Byte.toUnsignedInt(in.get(in.position())), in.position()));
        }
        return out.flip().toString();
    }

    /** A text file that a command cannot use; the message names the file and what is wrong. */
    public static final class TextFileException extends IOException {
        public TextFileException(String message) {
            super(message);
        }
    }
}
