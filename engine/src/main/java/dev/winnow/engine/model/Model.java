package dev.winnow.engine.model;

import dev.winnow.engine.tokenizer.Tokenizer;
import dev.winnow.engine.tokenizer.Vocabulary;
import dev.winnow.gguf.GgufFile;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A loaded model: the mapped GGUF file, its configuration, weights and tokenizer. Closing it unmaps the file,
 * after which nothing built from it may be used.
 *
 * @param adapter      the file of the pruning adapter laid over the model, or null
 * @param moduleOrNull the learned pruning module, from the model file or the adapter, or null
 */
public record Model(GgufFile file, Vocabulary vocabulary, Tokenizer tokenizer, LlamaModel llama, GgufFile adapter,
                    PruningModule moduleOrNull) implements AutoCloseable {

    /** Maps and validates {@code path}, with the pruning module its file carries, if any. */
    public static Model load(Path path) throws IOException {
        return load(path, null);
    }

    /**
     * Maps and validates {@code path}, and the pruning adapter {@code adapterPath} laid over it (null: the
     * pruning module of the model file itself, if it has one).
     *
     * @throws dev.winnow.gguf.GgufFormatException when a file is not well-formed GGUF
     * @throws ModelLoadException                  when it is GGUF but not a model (or adapter) Winnow can run
     */
    public static Model load(Path path, Path adapterPath) throws IOException {
        return load(path, adapterPath, (done, total) -> { });
    }

    /** Told, while a model loads, how many of its layers have their weights ready. */
    @FunctionalInterface
    public interface LayerListener {
        void layersReady(int done, int total);
    }

    /** As {@link #load(Path, Path)}, telling {@code layersLoaded} after each layer. */
    public static Model load(Path path, Path adapterPath, LayerListener layersLoaded) throws IOException {
        GgufFile file = GgufFile.open(path);
        GgufFile adapter = null;
        try {
            Vocabulary vocabulary = Vocabulary.fromGguf(file.metadata());
            Tokenizer tokenizer = Tokenizer.of(vocabulary);
            LlamaConfig config = LlamaConfig.fromFile(file, vocabulary.tokens().length);
            if (config.vocabularySize() != vocabulary.tokens().length) {
                throw new ModelLoadException("llama.vocab_size is %d but the tokenizer has %d tokens"
                        .formatted(config.vocabularySize(), vocabulary.tokens().length));
            }
            LlamaModel llama = new LlamaModel(config, LlamaWeights.load(file, config, layersLoaded));
            adapter = adapterPath == null ? null : GgufFile.open(adapterPath);
            PruningModule module = adapter != null ? PruningModule.read(adapter, config)
                    : PruningModule.find(file, config).orElse(null);
            return new Model(file, vocabulary, tokenizer, llama, adapter, module);
        } catch (RuntimeException | IOException e) {
            if (adapter != null) {
                adapter.close();
            }
            file.close();
            throw e;
        }
    }

    /** The learned pruning module, from the model file or an adapter, if one was loaded. */
    public Optional<PruningModule> pruningModule() {
        return Optional.ofNullable(moduleOrNull);
    }

    public LlamaConfig config() {
        return llama.config();
    }

    @Override
    public void close() {
        if (adapter != null) {
            adapter.close();
        }
        file.close();
    }
}
