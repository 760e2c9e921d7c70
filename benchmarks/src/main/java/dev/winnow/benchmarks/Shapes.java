package dev.winnow.benchmarks;

/** Parses the "ROWSxCOLS" shape parameters of the benchmarks. */
final class Shapes {
    private Shapes() {
    }

    static int rows(String shape) {
        return part(shape, 0);
    }

    static int cols(String shape) {
        return part(shape, 1);
    }

    private static int part(String shape, int index) {
        String[] parts = shape.split("x");
        if (parts.length != 2) {
            throw new IllegalArgumentException("a shape is ROWSxCOLS, got '" + shape + "'");
        }
        return Integer.parseInt(parts[index]);
    }
}
