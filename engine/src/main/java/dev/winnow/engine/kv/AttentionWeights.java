package dev.winnow.engine.kv;

/**
 * A request, passed to {@link KvCache#attend}, for the attention weight each token received: the weights of the
 * block's queries (of its last query alone, with {@code lastQueryOnly}), averaged over heads, are added to
 * {@code byPosition[position]}. Heavy-hitter and TOVA pruning read them; each keeps one request per layer.
 */
public record AttentionWeights(boolean lastQueryOnly, float[] byPosition) {
}
