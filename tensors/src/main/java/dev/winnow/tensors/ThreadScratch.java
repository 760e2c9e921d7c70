package dev.winnow.tensors;

/**
 * One growable float buffer per thread for the kernels' temporary values (dequantized weight tiles), so that
 * a product allocates nothing once each worker has a buffer of the size it needs.
 */
final class ThreadScratch {
    private static final ThreadLocal<float[]> BUFFER = ThreadLocal.withInitial(() -> new float[0]);

    private ThreadScratch() {
    }

    /** This thread's buffer, at least {@code length} floats long; its contents are whatever was left in it. */
    static float[] floats(int length) {
        float[] buffer = BUFFER.get();
        if (buffer.length < length) {
            buffer = new float[length];
            BUFFER.set(buffer);
        }
        return buffer;
    }
}
