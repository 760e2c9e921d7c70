package dev.winnow.engine.kv;

/**
 * A request, passed to {@link KvCache#attend}, for the attention weight each token received: the weights of the
 * block's queries from {@code fromQuery} on, averaged over heads, are added to {@code byPosition[position]}.
 * Heavy-hitter and TOVA pruning read them.
 */
public record AttentionWeights(int fromQuery, float[] byPosition) {
}
