package dev.winnow.tests.pruning;

import dev.winnow.engine.model.DcpCalibration;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.DoubleRange;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.DoubleUnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link DcpCalibration#measure} makes a table from which {@code dcp:keep=F} reads an offset that keeps F, within
 * {@link DcpCalibration#STEP}, for every F the module can reach: here on kept-fraction curves shaped like a
 * module's (a logistic in the offset, anywhere, of any steepness, between a floor and a ceiling), in few passes.
 */
class DcpCalibrationProperties {

    @Property(tries = 300)
    void theOffsetReadForAFractionKeepsThatFraction(@ForAll @DoubleRange(min = -300, max = 300) double centre,
                                                    @ForAll @DoubleRange(min = 0.5, max = 40) double spread,
                                                    @ForAll @DoubleRange(min = 0, max = 0.3) double floor,
                                                    @ForAll @DoubleRange(min = 0.7, max = 1) double ceiling,
                                                    @ForAll @DoubleRange(min = 0, max = 1) double target) {
        DoubleUnaryOperator keptAt = offset -> floor + (ceiling - floor) / (1 + Math.exp(-(offset - centre) / spread));
        AtomicInteger passes = new AtomicInteger();
        DcpCalibration calibration = DcpCalibration.measure(offset -> {
            passes.incrementAndGet();
            return keptAt.applyAsDouble(offset);
        });
        assertTrue(passes.get() <= DcpCalibration.MAX_PASSES, passes + " passes");
        assertEquals(passes.get(), calibration.offsets().length, "one table row per pass");
        float[] kept = calibration.kept();
        double reachable = Math.clamp(target, kept[0], kept[kept.length - 1]);
        double reached = keptAt.applyAsDouble(calibration.offsetFor(target));
        assertTrue(Math.abs(reached - reachable) <= DcpCalibration.STEP + 1e-6,
                "keep=%.4f read offset %.3f, which keeps %.4f (table %s .. %s)".formatted(target,
                        calibration.offsetFor(target), reached, kept[0], kept[kept.length - 1]));
    }

    @Property(tries = 100)
    void aNoisyPassNeverMakesTheTableFall(@ForAll @DoubleRange(min = -50, max = 50) double centre,
                                          @ForAll @DoubleRange(min = 0, max = 0.05) double noise) {
        // The same curve with a wobble a pass over real text can have: the table still only rises.
        DcpCalibration calibration = DcpCalibration.measure(offset ->
                Math.clamp(1 / (1 + Math.exp(-(offset - centre) / 8)) + noise * Math.sin(offset * 7.3), 0, 1));
        float[] kept = calibration.kept();
        for (int i = 1; i < kept.length; i++) {
            assertTrue(kept[i] >= kept[i - 1], "row %d falls".formatted(i));
        }
    }
}
