package dev.winnow.engine.training;

import dev.winnow.engine.tokenizer.TextFile;
import dev.winnow.engine.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.eclipse.collections.impl.list.mutable.primitive.IntArrayList;

/**
 * A text file as one stream of token ids: the documents of the file (separated by lines holding only
 * {@code <|endoftext|>}, TinyStories' convention; a file without such lines is one document) are stripped,
 * tokenized, each preceded by BOS when the model wants one, and concatenated.
 */
public final class TextCorpus {
    public static final String DOCUMENT_SEPARATOR = "<|endoftext|>";

    private TextCorpus() {
    }

    /** The documents of a text, stripped, empty ones left out. */
    public static List<String> documents(String text) {
        List<String> documents = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : text.split("\r?\n", -1)) {
            if (line.strip().equals(DOCUMENT_SEPARATOR)) {
                addDocument(documents, current);
                current.setLength(0);
            } else {
                current.append(line).append('\n');
            }
        }
        addDocument(documents, current);
        return documents;
    }

    private static void addDocument(List<String> documents, StringBuilder text) {
        String document = text.toString().strip();
        if (!document.isEmpty()) {
            documents.add(document);
        }
    }

    /**
     * The token stream of a UTF-8 text file.
     *
     * @throws TextFile.TextFileException if the file is not UTF-8 or holds no text
     */
    public static int[] tokenize(Path file, Tokenizer tokenizer, boolean addBos) throws IOException {
        List<String> documents = documents(TextFile.readUtf8(file));
        if (documents.isEmpty()) {
            throw new TextFile.TextFileException(file + " holds no text");
        }
        IntArrayList stream = new IntArrayList();
        for (String document : documents) {
            stream.addAll(tokenizer.encode(document, addBos, false));
        }
        return stream.toArray();
    }
}
