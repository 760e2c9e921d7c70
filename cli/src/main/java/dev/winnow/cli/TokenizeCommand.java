package dev.winnow.cli;

import dev.winnow.engine.tokenizer.TextFile;
import dev.winnow.engine.tokenizer.Tokenizer;
import dev.winnow.engine.tokenizer.Vocabulary;
import dev.winnow.gguf.GgufFile;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/** {@code winnow tokenize}: the token ids of a text, as the model's tokenizer splits it. */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = "Print the token ids of a text, space separated. Reads only the tokenizer of the model "
                + "file, so vocabulary-only GGUF files work too.")
final class TokenizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelFile modelFile;

    @ArgGroup(multiplicity = "1")
    Input input;

    static final class Input {
        @Parameters(paramLabel = "TEXT", description = "The text to tokenize.")
        String text;

        @Option(names = {"-f", "--file"}, paramLabel = "FILE", description = "Read the text from a UTF-8 file.")
        Path file;
    }

    @Option(names = "--bos", description = "Add the BOS token in front.")
    boolean bos;

    @Option(names = "--no-parse-special",
            description = "Treat the text of special tokens (like </s>) as plain text.")
    boolean noParseSpecial;

    @Option(names = "--pieces", description = "Print each token's text next to its id, one per line.")
    boolean pieces;

    @Override
    public Integer call() throws Exception {
        Path model = modelFile.path(spec.commandLine().getErr());
        String text = input.text != null ? input.text : TextFile.readUtf8(input.file);
        try (GgufFile file = GgufFile.open(model)) {
            Tokenizer tokenizer = Tokenizer.of(Vocabulary.fromGguf(file.metadata()));
            int[] ids = tokenizer.encode(text, bos, !noParseSpecial);
            PrintWriter out = spec.commandLine().getOut();
            if (pieces) {
                for (int id : ids) {
                    out.printf("%6d  %s%n", id, tokenizer.piece(id));
                }
            } else {
                out.println(Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(" ")));
            }
            out.flush();
        }
        return 0;
    }
}
