package dev.winnow.engine.serve;

/**
 * One sequence in the batch as the decode loop last published it: how far it is, and what its KV cache holds
 * after pruning.
 *
 * @param id                  the sequence's id ({@link SequenceHandle#id()})
 * @param position            tokens read or generated so far (prompt and completion)
 * @param keptTokensPerLayer  tokens each layer's cache holds; {@code position} each without pruning
 * @param kvBytes             bytes of the KV pages the sequence holds
 */
public record SequenceStatus(long id, int promptTokens, int completionTokens, int position, int[] keptTokensPerLayer,
                             long kvBytes) {
    public SequenceStatus {
        keptTokensPerLayer = keptTokensPerLayer.clone();
    }

    @Override
    public int[] keptTokensPerLayer() {
        return keptTokensPerLayer.clone();
    }

    /** Of the token slots the sequence stored over all layers, the fraction pruning dropped. */
    public double prunedFraction() {
        long kept = 0;
        for (int tokens : keptTokensPerLayer) {
            kept += tokens;
        }
        long stored = (long) position * keptTokensPerLayer.length;
        return stored == 0 ? 0 : 1 - (double) kept / stored;
    }
}
