package dev.winnow.tests.pruning;

import dev.winnow.engine.pruning.AlphaSigmoid;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.DoubleRange;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The alpha-sigmoid against dcp.md section 3's independently computed values, and its derivative against finite differences. */
class AlphaSigmoidTest {

    @ParameterizedTest(name = "alpha {0}, x {1}")
    @CsvSource({"1.5, -1, 0.169281", "1.5, -0.3, 0.394532", "1.5, 0.7, 0.739788", "2, 0.7, 0.85",
            "4, 0.1, 0.69075", "4, 0.2, 0.84517", "8, 0.1, 0.95032", "8, -0.1, 0.04968", "8, 0.2, 1",
            "1.000001, 0, 0.5", "1.000001, 2, 0.880797"})
    void matchesTheTestValues(double alpha, double x, double expected) {
        assertEquals(expected, AlphaSigmoid.value(alpha, x), 6e-6);
    }

    @ParameterizedTest(name = "alpha {0}, x {1}")
    @CsvSource({"1.5, 0.1, 0.35289", "8, 0.02, 5.38575", "8, 0.1, 1.35760", "8, 0.3, 0"})
    void derivativeMatchesTheTestValues(double alpha, double x, double expected) {
        assertEquals(expected, AlphaSigmoid.derivative(alpha, x), 6e-5);
    }

    @Property(tries = 500)
    void derivativeMatchesFiniteDifferences(@ForAll @DoubleRange(min = 1.01, max = 12) double alpha,
                                            @ForAll @DoubleRange(min = -2, max = 2) double x) {
        double bound = 1 / (alpha - 1);
        double h = 1e-6;
        // Finite differences are only meaningful away from the points where the function stops being smooth.
        if (Math.abs(Math.abs(x) - bound) < 10 * h) {
            return;
        }
        double numeric = (AlphaSigmoid.value(alpha, x + h) - AlphaSigmoid.value(alpha, x - h)) / (2 * h);
        double analytic = AlphaSigmoid.derivative(alpha, x);
        assertEquals(numeric, analytic, 1e-4 * Math.max(1, Math.abs(numeric)),
                "alpha %.4f x %.4f".formatted(alpha, x));
    }

    @Property(tries = 500)
    void isASymmetricMonotoneProbability(@ForAll @DoubleRange(min = 1, max = 12) double alpha,
                                         @ForAll @DoubleRange(min = -3, max = 3) double x) {
        double s = AlphaSigmoid.value(alpha, x);
        assertTrue(s >= 0 && s <= 1);
        assertEquals(1 - s, AlphaSigmoid.value(alpha, -x), 1e-9);
        assertTrue(AlphaSigmoid.value(alpha, x + 0.01) >= s - 1e-12);
        if (alpha > 1.001 && Math.abs(x) >= 1 / (alpha - 1)) {
            assertEquals(x > 0 ? 1.0 : 0.0, s);
        }
    }
}
