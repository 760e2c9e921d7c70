package dev.winnow.engine.sampling;

import java.lang.management.ManagementFactory;
import java.util.Random;

/**
 * Run by {@link SamplerTest} in a JVM of its own: for each configuration, samples from 32,000 logits in rounds of
 * 50 calls until a call allocates less than a quarter of one vocabulary-sized float array (the vector code is
 * compiled by then; until it is, each vector operation allocates), at most 100 rounds. Prints the bytes per call
 * of each configuration and "ok", or exits with status 1 naming the configuration that never got there.
 */
final class SamplerAllocationCheck {
    private SamplerAllocationCheck() {
    }

    public static void main(String[] args) {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        int vocabulary = 32_000;
        float[] logits = new float[vocabulary];
        Random random = new Random(7);
        for (int i = 0; i < vocabulary; i++) {
            logits[i] = (float) random.nextGaussian() * 3;
        }
        for (SamplerConfig config : new SamplerConfig[] {SamplerConfig.greedy(),
                new SamplerConfig(0.8f, 40, 0.95f, 0.05f, 1.1f, 64, 3L),
                new SamplerConfig(1f, 0, 0.9f, 0f, 1.1f, 64, 3L),
                new SamplerConfig(1f, 0, 1f, 0f, 1f, 64, 3L)}) {
            Sampler sampler = Sampler.create(config);
            long perCall = Long.MAX_VALUE;
            int calls = 50;
            for (int round = 0; round < 100 && perCall >= vocabulary; round++) {
                long before = threads.getCurrentThreadAllocatedBytes();
                for (int i = 0; i < calls; i++) {
                    sampler.accept(sampler.sample(logits));
                }
                perCall = (threads.getCurrentThreadAllocatedBytes() - before) / calls;
            }
            System.out.println(config + ": " + perCall + " bytes per call");
            if (perCall >= vocabulary) {
                System.out.println(config + " allocated " + perCall + " bytes per call");
                System.exit(1);
            }
        }
        System.out.println("ok");
    }
}
