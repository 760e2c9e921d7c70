package dev.winnow.engine.tokenizer;

import java.util.ArrayList;
import java.util.List;

/** Small SentencePiece vocabularies built in code: {@code <unk>}, {@code <s>}, {@code </s>}, optional bytes, pieces. */
final class TestVocabularies {
    static final int UNK = 0;
    static final int BOS = 1;
    static final int EOS = 2;
    /** Id of the first piece when the vocabulary has byte tokens. */
    static final int FIRST_PIECE_WITH_BYTES = 3 + 256;

    private TestVocabularies() {
    }

    /**
     * @param withBytes whether to include {@code <0x00>}..{@code <0xFF>} (ids 3..258)
     * @param pieces    normal tokens, in id order after the specials and bytes
     * @param scores    their scores
     */
    static Vocabulary spm(boolean withBytes, List<String> pieces, List<Float> scores) {
        List<String> tokens = new ArrayList<>(List.of("<unk>", "<s>", "</s>"));
        List<Integer> types = new ArrayList<>(List.of(2, 3, 3));
        List<Float> allScores = new ArrayList<>(List.of(0f, 0f, 0f));
        if (withBytes) {
            for (int b = 0; b < 256; b++) {
                tokens.add("<0x%02X>".formatted(b));
                types.add(TokenType.BYTE.code());
                allScores.add(0f);
            }
        }
        tokens.addAll(pieces);
        allScores.addAll(scores);
        pieces.forEach(piece -> types.add(TokenType.NORMAL.code()));
        float[] scoreArray = new float[allScores.size()];
        for (int i = 0; i < scoreArray.length; i++) {
            scoreArray[i] = allScores.get(i);
        }
        return new Vocabulary("llama", tokens.toArray(String[]::new), scoreArray,
                types.stream().mapToInt(Integer::intValue).toArray(), BOS, EOS, UNK, true, false, true, null, null, null);
    }
}
