package dev.winnow.cli;

import dev.winnow.engine.pruning.PruningTrace;
import dev.winnow.engine.tokenizer.TokenDecoder;
import dev.winnow.engine.tokenizer.Tokenizer;

import java.io.PrintWriter;

/**
 * The conversation so far with each token coloured by how many layers still hold it (ANSI colours): default
 * when every layer does, green for most, yellow for some, dim and struck through when none does.
 */
final class PruningView {
    private static final String RESET = "\u001b[0m";

    private PruningView() {
    }

    static void print(PrintWriter out, PruningTrace trace, Tokenizer tokenizer) {
        TokenDecoder decoder = tokenizer.decoder();
        int layers = trace.layers();
        out.print("\u001b[2m[pruning view: white = all " + layers + " layers hold the token, green = most, yellow = some, "
                + "struck = none]" + RESET + "\n");
        for (int position = 0; position < trace.length(); position++) {
            String text = decoder.next(trace.tokenAt(position));
            int held = trace.layersHolding(position);
            String colour = held == layers ? "" : held == 0 ? "\u001b[2;9m" : 2 * held >= layers ? "\u001b[32m" : "\u001b[33m";
            out.print(colour.isEmpty() ? text : colour + text + RESET);
        }
        out.print(decoder.flush());
        out.println();
        out.flush();
    }
}
