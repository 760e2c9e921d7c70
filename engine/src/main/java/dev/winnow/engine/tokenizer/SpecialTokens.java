package dev.winnow.engine.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.OptionalInt;
import java.util.Set;

import org.eclipse.collections.api.set.primitive.MutableIntSet;
import org.eclipse.collections.impl.map.mutable.primitive.ObjectIntHashMap;
import org.eclipse.collections.impl.set.mutable.primitive.IntHashSet;

/**
 * The tokens that are matched by their literal text (control, unknown and user-defined ones), which of them end
 * a generation, and the splitting of an input text around them. Shared by every tokenizer algorithm.
 */
final class SpecialTokens {
    /**
     * Texts of end-of-turn markers that chat models emit instead of (or besides) EOS; llama.cpp stops on the same
     * ones.
     */
    private static final Set<String> END_OF_TURN_TEXTS = Set.of(
            "<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>",
            "<|end_of_text|>");

    /** One piece of an input: either the text in {@code [start, end)} or, when {@code token >= 0}, a special token. */
    record Fragment(int start, int end, int token) {
        boolean isText() {
            return token < 0;
        }
    }

    private final ObjectIntHashMap<String> idsByText = new ObjectIntHashMap<>();
    private final MutableIntSet endOfGeneration = new IntHashSet();
    /** Special tokens in splitting order: longest text first, then lowest id. */
    private final int[] splitOrder;
    private final String[] texts;
    private final boolean[] alwaysSplit;

    SpecialTokens(Vocabulary vocabulary) {
        texts = vocabulary.tokens();
        alwaysSplit = new boolean[texts.length];
        List<Integer> special = new ArrayList<>();
        for (int id = 0; id < texts.length; id++) {
            TokenType type = vocabulary.type(id);
            boolean literal = type == TokenType.CONTROL || type == TokenType.UNKNOWN || type == TokenType.USER_DEFINED;
            if (!literal || texts[id].isEmpty()) {
                continue;
            }
            special.add(id);
            idsByText.put(texts[id], id);
            // User-defined tokens are split out even when special tokens are not parsed (llama.cpp and HF do so).
            alwaysSplit[id] = type == TokenType.USER_DEFINED;
            if (type != TokenType.UNKNOWN && END_OF_TURN_TEXTS.contains(texts[id])) {
                endOfGeneration.add(id);
            }
        }
        if (vocabulary.eos() >= 0) {
            endOfGeneration.add(vocabulary.eos());
        }
        // llama.cpp orders by UTF-8 length; ties keep id order.
        special.sort(Comparator.comparingInt((Integer id) -> -texts[id].getBytes(StandardCharsets.UTF_8).length)
                .thenComparingInt(id -> id));
        splitOrder = special.stream().mapToInt(Integer::intValue).toArray();
    }

    boolean isEndOfGeneration(int id) {
        return endOfGeneration.contains(id);
    }

    OptionalInt idOf(String text) {
        return idsByText.containsKey(text) ? OptionalInt.of(idsByText.get(text)) : OptionalInt.empty();
    }

    /**
     * Cuts {@code text} into text fragments and special tokens the way llama.cpp does: each special token, longest
     * first, is cut out of every remaining text fragment wherever it occurs. Control and unknown tokens are only
     * recognised when {@code parseSpecial}; user-defined ones always. Empty text fragments are dropped.
     */
    List<Fragment> split(String text, boolean parseSpecial) {
        List<Fragment> fragments = new ArrayList<>();
        if (text.isEmpty()) {
            return fragments;
        }
        fragments.add(new Fragment(0, text.length(), -1));
        for (int id : splitOrder) {
            if (!parseSpecial && !alwaysSplit[id]) {
                continue;
            }
            String special = texts[id];
            List<Fragment> next = new ArrayList<>(fragments.size() + 2);
            for (Fragment fragment : fragments) {
                if (!fragment.isText()) {
                    next.add(fragment);
                    continue;
                }
                int position = fragment.start();
                int match;
                while ((match = text.indexOf(special, position, fragment.end())) >= 0) {
                    addText(next, position, match);
                    next.add(new Fragment(match, match + special.length(), id));
                    position = match + special.length();
                }
                addText(next, position, fragment.end());
            }
            fragments = next;
        }
        return fragments;
    }

    private static void addText(List<Fragment> fragments, int start, int end) {
        if (end > start) {
            fragments.add(new Fragment(start, end, -1));
        }
    }
}
