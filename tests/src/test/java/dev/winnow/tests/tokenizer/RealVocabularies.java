package dev.winnow.tests.tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import dev.winnow.engine.tokenizer.Tokenizer;
import dev.winnow.engine.tokenizer.Vocabulary;
import dev.winnow.gguf.GgufFile;
import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.Assumptions;

/** The real vocabularies in {@code ../shared}, loaded through the GGUF reader. */
final class RealVocabularies {
    static final String LLAMA_SPM = "vocab/ggml-vocab-llama-spm.gguf";
    static final String STORIES_260K = "models/stories260K.gguf";
    static final String GPT2 = "vocab/ggml-vocab-gpt-2.gguf";

    private RealVocabularies() {
    }

    /** The tokenizer of a shared GGUF file; skips the test (saying why) when the file is missing or damaged. */
    static Tokenizer require(String relative) {
        Path file = SharedFiles.requireShared(relative);
        try {
            if (SharedFiles.damagedByTextConversion(file)) {
                String reason = damaged(file);
                System.err.println("skipped: " + reason);
                Assumptions.abort(reason);
            }
            return load(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The tokenizers of those files that are present and intact; prints why the others are left out. */
    static List<Tokenizer> available(String... relatives) {
        List<Tokenizer> tokenizers = new ArrayList<>();
        for (String relative : relatives) {
            Optional<Path> file = SharedFiles.find(relative);
            try {
                if (file.isEmpty()) {
                    System.err.println("left out: " + relative + " is not in the shared folder");
                } else if (SharedFiles.damagedByTextConversion(file.get())) {
                    System.err.println("left out: " + damaged(file.get()));
                } else {
                    tokenizers.add(load(file.get()));
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return tokenizers;
    }

    private static String damaged(Path file) {
        return file + " was damaged by a text conversion (its bytes that were not UTF-8 became U+FFFD); it needs to be"
                + " replaced by an intact copy";
    }

    private static Tokenizer load(Path file) throws IOException {
        try (GgufFile gguf = GgufFile.open(file)) {
            return Tokenizer.of(Vocabulary.fromGguf(gguf.metadata()));
        }
    }
}
