package dev.winnow.tests.pruning;

import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.EngineConfig;
import dev.winnow.engine.runtime.Sequence;
import dev.winnow.engine.runtime.SequenceOptions;
import dev.winnow.tests.model.TinyLlama;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordingFile;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Run by {@link DecodeAllocationTest} in a JVM of its own, started without thread-local allocation buffers so that
 * Flight Recorder reports every allocation with its stack: for each pruning policy, decodes {@link #WARM_UP}
 * sequences of {@link #LENGTH} tokens with a tiny model (a random DCP module that prunes), resetting the sequence
 * between them (that sizes the pages, arrays and buffers, loads every class and gets the code compiled), then
 * records the allocations of this thread over {@link #MEASURED} more of the same sequence, in up to
 * {@link #WINDOWS} windows until one is clean. Every allocation fails the check except the token's decoded text
 * (a string handed to the caller) and the vector
 * boxes the JIT may leave in the Vector API kernels (a vector class, a frame of the Vector API, or a primitive
 * array made by a kernel of dev.winnow.tensors): those depend on the compiler's inlining, not on the engine's
 * code. One worker thread (the engine's), so every step runs on this thread, under the frames of {@link #decode}.
 * Prints each policy's result and "ok", or exits with status 1 after printing each offending allocation and the
 * uncommon traps taken in its window (a deoptimization re-creates the objects the JIT had removed, and the
 * recorder reports them at the bytecode where the frame was deoptimized).
 */
final class DecodeAllocationCheck {
    private static final int LENGTH = 96;
    private static final int WARM_UP = 60;
    private static final int MEASURED = 5;
    private static final int WINDOWS = 3;
    private static final String ALLOCATION = "jdk.ObjectAllocationOutsideTLAB";
    private static final String DEOPTIMIZATION = "jdk.Deoptimization";

    private DecodeAllocationCheck() {
    }

    public static void main(String[] args) throws Exception {
        int layers = 2;
        TinyLlama tiny = TinyLlama.random(11, 16, layers, 4, 2, 40, 37, LENGTH, 4, false)
                .withDcp(TinyLlama.Dcp.random(12, layers, 16, 4, 0.5, new float[] {0.2f, 0.1f}));
        Path file = Files.createTempFile("decode-allocation", ".gguf");
        Path dump = Files.createTempFile("decode-allocation", ".jfr");
        boolean failed = false;
        try {
            tiny.write(file);
            try (Model model = Model.load(file)) {
                for (String spec : new String[] {"none", "dcp", "dcp:budget=16", "dcp:keep=0.3", "window:4:16", "h2o:8:8", "tova:16"}) {
                    PruningPolicy policy = PruningPolicy.parse(spec);
                    try (Engine engine = new Engine(model, EngineConfig.single(1, LENGTH, policy))) {
                        Sequence session = engine.newSequence(SequenceOptions.forced(null));
                        decode(session, WARM_UP, tiny.vocab());
                        Window window = null;
                        // A one-time event (a class resolved after the JIT dropped a compiled method) may land in
                        // a window; an allocation made by a step lands in every one.
                        for (int w = 0; w < WINDOWS && (w == 0 || !window.allocations().isEmpty()); w++) {
                            window = whileDecoding(session, tiny.vocab(), dump);
                        }
                        List<RecordedEvent> ours = window.allocations();
                        System.out.printf("%s: %d allocations in %d decode steps%n", spec, ours.size(), MEASURED * LENGTH);
                        for (RecordedEvent e : ours.subList(0, Math.min(5, ours.size()))) {
                            System.out.println("  " + e.getClass("objectClass").getName() + " at " + stack(e));
                        }
                        if (!ours.isEmpty()) {
                            for (RecordedEvent e : window.traps()) {
                                System.out.println("  in the same window, an uncommon trap: " + e.getString("reason") + ", "
                                        + e.getString("action") + ", at " + stack(e));
                            }
                        }
                        failed |= !ours.isEmpty();
                    }
                }
            }
        } finally {
            Files.deleteIfExists(file);
            Files.deleteIfExists(dump);
        }
        if (failed) {
            System.exit(1);
        }
        System.out.println("ok");
    }

    /** The allocations counted against a window of decoding, and the uncommon traps taken in it (to explain them). */
    private record Window(List<RecordedEvent> allocations, List<RecordedEvent> traps) {
    }

    private static Window whileDecoding(Sequence session, int vocabulary, Path dump) throws Exception {
        try (Recording recording = new Recording()) {
            recording.enable(ALLOCATION).withStackTrace();
            recording.enable(DEOPTIMIZATION).withStackTrace();
            recording.start();
            decode(session, MEASURED, vocabulary);
            recording.stop();
            recording.dump(dump);
        }
        List<RecordedEvent> events = RecordingFile.readAllEvents(dump).stream()
                .filter(DecodeAllocationCheck::madeByDecoding)
                .toList();
        return new Window(
                events.stream()
                        .filter(e -> e.getEventType().getName().equals(ALLOCATION))
                        .filter(e -> !vectorBox(e))
                        .filter(e -> !tokenText(e))
                        .toList(),
                events.stream().filter(e -> e.getEventType().getName().equals(DEOPTIMIZATION)).toList());
    }

    private static void decode(Sequence session, int sequences, int vocabulary) {
        for (int s = 0; s < sequences; s++) {
            session.reset();
            for (int t = 0; t < LENGTH; t++) {
                session.feed((t * 7 + 3) % vocabulary);
            }
        }
    }

    /** Whether an event happened inside {@link #decode} (not as the recorder started or stopped). */
    private static boolean madeByDecoding(RecordedEvent event) {
        return event.getStackTrace() != null && event.getStackTrace().getFrames().stream()
                .anyMatch(f -> f.getMethod().getName().equals("decode")
                        && f.getMethod().getType().getName().equals(DecodeAllocationCheck.class.getName()));
    }

    /** The decoded text of each token, which the sequence hands to whoever prints it: the one thing a step makes. */
    private static boolean tokenText(RecordedEvent allocation) {
        return allocation.getStackTrace().getFrames().stream().limit(8)
                .anyMatch(f -> f.getMethod().getType().getName().equals("dev.winnow.engine.tokenizer.TokenDecoder"));
    }

    private static boolean vectorBox(RecordedEvent allocation) {
        String type = allocation.getClass("objectClass").getName();
        List<RecordedFrame> frames = allocation.getStackTrace().getFrames();
        String top = frames.isEmpty() ? "" : frames.get(0).getMethod().getType().getName();
        return type.startsWith("jdk.incubator.vector.")
                || frames.stream().limit(3).anyMatch(f -> f.getMethod().getType().getName().startsWith("jdk.incubator.vector.")
                        || f.getMethod().getType().getName().startsWith("jdk.internal.vm.vector."))
                || type.startsWith("[") && type.length() == 2 && top.startsWith("dev.winnow.tensors.");
    }

    private static List<String> stack(RecordedEvent e) {
        return e.getStackTrace().getFrames().stream().limit(8).map(DecodeAllocationCheck::frame).toList();
    }

    private static String frame(RecordedFrame f) {
        return f.getMethod().getType().getName() + "." + f.getMethod().getName() + ":" + f.getLineNumber();
    }
}
