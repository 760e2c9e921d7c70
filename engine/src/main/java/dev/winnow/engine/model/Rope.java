package dev.winnow.engine.model;

/**
 * Rotary position embedding as a model file describes it, for the inference engine and training alike: which
 * pairs of a head's dimensions turn together (the family's {@link Architecture.RopeStyle}), and the frequency of
 * each pair, base^(-2i/ropeDim), divided by the linear position scale and by the pair's factor in
 * {@code rope_freqs.weight} when the file has one. Angles are computed once per position, for every layer.
 */
public final class Rope {
    private final boolean adjacent;
    private final int headDim;
    /** Per rotated pair; none for a family without RoPE. */
    private final float[] frequencies;

    public Rope(LlamaConfig config) {
        Architecture.RopeStyle style = config.architecture().rope();
        this.adjacent = style == Architecture.RopeStyle.ADJACENT;
        this.headDim = config.headDim();
        this.frequencies = new float[style == Architecture.RopeStyle.NONE ? 0 : config.ropeDim() / 2];
        float[] factors = config.ropeFrequencyFactors();
        for (int i = 0; i < frequencies.length; i++) {
            double frequency = 1.0 / Math.pow(config.ropeBase(), (2.0 * i) / config.ropeDim());
            frequencies[i] = (float) (frequency / config.ropePositionScale() / (factors == null ? 1 : factors[i]));
        }
    }

    /** Rotated pairs per head: the angles one position has. */
    public int pairs() {
        return frequencies.length;
    }

    /** The cosine and sine of each pair's angle at {@code position}, into cos and sin from {@code offset}. */
    public void angles(int position, float[] cos, float[] sin, int offset) {
        for (int i = 0; i < frequencies.length; i++) {
            float angle = position * frequencies[i];
            cos[offset + i] = (float) Math.cos(angle);
            sin[offset + i] = (float) Math.sin(angle);
        }
    }

    /**
     * Rotates {@code heads} consecutive head vectors from {@code x[offset]} by the angles at cos and sin from
     * {@code angles}: pair i is (2i, 2i+1) in Llama's GGUF layout, (i, i + ropeDim/2) in the NeoX layout.
     */
    public void rotate(float[] x, int offset, int heads, float[] cos, float[] sin, int angles) {
        turn(x, offset, heads, cos, sin, angles, 1);
    }

    /** The inverse rotation: the gradient of {@link #rotate}'s input from that of its output, in place. */
    public void rotateBack(float[] x, int offset, int heads, float[] cos, float[] sin, int angles) {
        turn(x, offset, heads, cos, sin, angles, -1);
    }

    private void turn(float[] x, int offset, int heads, float[] cos, float[] sin, int angles, int direction) {
        int pairs = frequencies.length;
        for (int h = 0; h < heads; h++) {
            int base = offset + h * headDim;
            for (int i = 0; i < pairs; i++) {
                int j = adjacent ? base + 2 * i : base + i;
                int k = adjacent ? j + 1 : j + pairs;
                float c = cos[angles + i];
                float s = direction * sin[angles + i];
                float a = x[j];
                float b = x[k];
                x[j] = a * c - b * s;
                x[k] = a * s + b * c;
            }
        }
    }
}
