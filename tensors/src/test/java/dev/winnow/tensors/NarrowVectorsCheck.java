package dev.winnow.tensors;

import java.util.Random;

/**
 * Runs the kernel and vector-math checks in a JVM started with a smaller -XX:MaxVectorSize, so that the
 * code paths for 128- and 256-bit vectors (chunk and part arithmetic, tails) are exercised on any machine.
 * Started by {@link NarrowVectorWidthsTest}; prints the lane count, exits non-zero (with the assertion's
 * stack trace) on the first failure.
 */
final class NarrowVectorsCheck {
    private NarrowVectorsCheck() {
    }

    public static void main(String[] args) {
        System.out.println("lanes=" + Vectors.LANES);
        Random r = new Random(42);
        for (int round = 0; round < 8; round++) {
            for (GgmlType type : KernelReference.TYPES) {
                long seed = r.nextLong();
                int cols = KernelReference.randomCols(type, new Random(seed));
                KernelReference.checkDequantize(type, 1 + r.nextInt(8), cols, r.nextInt(3), seed);
                KernelReference.checkDot(type, 1 + r.nextInt(8), cols, r.nextInt(3), seed);
                KernelReference.checkProducts(type, 1 + r.nextInt(9), cols, 1 + r.nextInt(9), 1 + r.nextInt(2), seed);
            }
        }
        TensorKernelsTest kernels = new TensorKernelsTest();
        kernels.everyShortRowLengthWorks();
        kernels.rowsOf172ValuesWork();
        kernels.smallBlocksOfEverySizeMatchTheirVectorsAlone();
        new HalfConversionTest().everyHalfDecodesLikeTheJdk();
        VectorMathTest math = new VectorMathTest();
        long seed = r.nextLong();
        math.dotIsWithinTheFloatSummationBound(seed);
        math.sumOfSquaresSumsTheFloatSquaresInDouble(seed);
        math.rmsNormNormalisesAndScales(seed);
        math.elementwiseOperationsRoundOnce(seed);
        math.axpyIsAFusedMultiplyAdd(seed);
        math.softmaxMatchesTheDoubleReference(seed);
        math.expScaledGivesTheScalarExpInEveryLane(seed);
        math.maxIsTheScalarMaximum(seed);
        math.addWeightedRowsIsAxpyRowAfterRow(seed);
        math.maskedColumnDotsAreFusedColumnSums(seed);
        math.addWeightedColumnsSumsEachColumnInItsDocumentedOrder(seed);
        math.swigluIsSiluOfGateTimesUp(seed);
        System.out.println("ok");
    }
}
