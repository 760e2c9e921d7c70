package dev.winnow.engine.model;

import dev.winnow.engine.tokenizer.Tokenizer;
import dev.winnow.engine.tokenizer.Vocabulary;
import dev.winnow.gguf.GgufFile;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A loaded model: the mapped GGUF file, its configuration, weights and tokenizer. Closing it unmaps the file,
 * after which nothing built from it may be used.
 */
public final class Model implements AutoCloseable {
    private final GgufFile file;
    private final Vocabulary vocabulary;
    private final Tokenizer tokenizer;
    private final LlamaModel llama;

    private Model(GgufFile file, Vocabulary vocabulary, Tokenizer tokenizer, LlamaModel llama) {
        this.file = file;
        this.vocabulary = vocabulary;
        this.tokenizer = tokenizer;
        this.llama = llama;
    }

    /**
     * Maps and validates {@code path}.
     *
     * @throws dev.winnow.gguf.GgufFormatException when the file is not well-formed GGUF
     * @throws ModelLoadException                  when it is GGUF but not a model Winnow can run
     */
    public static Model load(Path path) throws IOException {
        GgufFile file = GgufFile.open(path);
        try {
            Vocabulary vocabulary = Vocabulary.fromGguf(file.metadata());
            Tokenizer tokenizer = Tokenizer.of(vocabulary);
            LlamaConfig config = LlamaConfig.fromMetadata(file.metadata(), vocabulary.tokens().length);
            if (config.vocabularySize() != vocabulary.tokens().length) {
                throw new ModelLoadException("llama.vocab_size is %d but the tokenizer has %d tokens"
                        .formatted(config.vocabularySize(), vocabulary.tokens().length));
            }
            LlamaModel llama = new LlamaModel(config, LlamaWeights.load(file, config));
            return new Model(file, vocabulary, tokenizer, llama);
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    public GgufFile file() {
        return file;
    }

    public Vocabulary vocabulary() {
        return vocabulary;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public LlamaModel llama() {
        return llama;
    }

    public LlamaConfig config() {
        return llama.config();
    }

    @Override
    public void close() {
        file.close();
    }
}
