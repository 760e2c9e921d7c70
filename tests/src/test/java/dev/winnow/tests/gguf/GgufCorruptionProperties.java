package dev.winnow.tests.gguf;

import dev.winnow.gguf.GgufFile;
import dev.winnow.gguf.GgufFormatException;
import dev.winnow.tests.SharedFiles;
import dev.winnow.tests.gguf.GuardedOpen.Outcome;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.lifecycle.AddLifecycleHook;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.statistics.Statistics;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Hostile input: damaged real files, damaged writer-made files and random bytes either open (and then describe only
 * what lies inside them) or are refused with {@link GgufFormatException}; never another exception, an error such as
 * OutOfMemoryError, or a hang (see {@link GuardedOpen}). 2200 files in all: 1000 real, 600 writer-made, 600 random.
 */
class GgufCorruptionProperties {
    private static final Path DIR = TempFiles.directory("gguf-corruption");
    private static final Path FILE = DIR.resolve("corrupt.gguf");
    private static List<Sample> realFiles;

    /** A file to damage, with the length of its header (where mutations strike most). */
    record Sample(String name, byte[] bytes, int headerLength) {
        @Override
        public String toString() {
            return name;
        }

        static Sample of(String name, byte[] bytes) {
            try {
                return read(name, Files.write(FILE, bytes));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** The file's bytes, and its data offset as the header length (the whole file when it does not open). */
        static Sample read(String name, Path file) throws IOException {
            byte[] bytes = Files.readAllBytes(file);
            try (GgufFile gguf = GgufFile.open(file)) {
                return new Sample(name, bytes, (int) gguf.dataOffset());
            } catch (GgufFormatException damaged) {
                return new Sample(name, bytes, bytes.length);
            }
        }
    }

    @AfterContainer
    static void cleanUp() throws IOException {
        TempFiles.delete(DIR);
    }

    private static Outcome openAndCount(byte[] bytes) throws IOException {
        Outcome outcome = GuardedOpen.open(FILE, bytes);
        Statistics.collect(outcome);
        return outcome;
    }

    @Provide
    Arbitrary<List<Mutation>> mutations() {
        return Mutation.sequences();
    }

    /** The GGUF files in shared/models and shared/vocab (the hook has made sure the folder exists). */
    @Provide
    Arbitrary<Sample> realFiles() throws IOException {
        if (realFiles == null) {
            List<Sample> samples = new ArrayList<>();
            Path shared = SharedFiles.sharedDir().orElseThrow();
            for (String folder : List.of("models", "vocab")) {
                try (Stream<Path> files = Files.list(shared.resolve(folder))) {
                    for (Path file : files.filter(f -> f.toString().endsWith(".gguf")).sorted().toList()) {
                        samples.add(Sample.of(folder + "/" + file.getFileName(), Files.readAllBytes(file)));
                    }
                }
            }
            realFiles = List.copyOf(samples);
        }
        return Arbitraries.of(realFiles);
    }

    /** 1000 tries: the shared models and vocabularies, damaged. (jqwik's edge cases would mostly strike byte 0.) */
    @Property(tries = 1000, edgeCases = EdgeCasesMode.NONE)
    @AddLifecycleHook(SharedFiles.SkipWithoutShared.class)
    void damagedRealFiles(@ForAll("realFiles") Sample sample, @ForAll("mutations") List<Mutation> mutations)
            throws IOException {
        openAndCount(damage(sample, mutations));
        Statistics.label("file").collect(sample.name());
        Statistics.coverage(coverage -> {
            coverage.check(Outcome.OPENED).count(n -> n > 0);
            coverage.check(Outcome.REFUSED).count(n -> n > 0);
        });
    }

    @Provide
    Arbitrary<Sample> writerFiles() {
        return GgufArbitraries.files(6, 3).map(spec -> {
            try {
                spec.writer().write(FILE);
                return Sample.of("written", Files.readAllBytes(FILE));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /** 600 tries: small files made by the writer (every value type, tensors, alignments), damaged. */
    @Property(tries = 600, edgeCases = EdgeCasesMode.NONE)
    void damagedWriterFiles(@ForAll("writerFiles") Sample sample, @ForAll("mutations") List<Mutation> mutations)
            throws IOException {
        openAndCount(damage(sample, mutations));
        Statistics.coverage(coverage -> {
            coverage.check(Outcome.OPENED).count(n -> n > 0);
            coverage.check(Outcome.REFUSED).count(n -> n > 0);
        });
    }

    private static byte[] damage(Sample sample, List<Mutation> mutations) {
        byte[] bytes = sample.bytes();
        for (Mutation mutation : mutations) {
            bytes = mutation.apply(bytes, sample.headerLength());
        }
        return bytes;
    }

    @Provide
    Arbitrary<byte[]> randomFiles() {
        Arbitrary<byte[]> noise = Arbitraries.bytes().array(byte[].class).ofMaxSize(1024);
        Arbitrary<byte[]> afterMagic = Arbitraries.of(2, 3).flatMap(version -> noise.map(tail -> concat(
                ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN)
                        .put("GGUF".getBytes(StandardCharsets.US_ASCII)).putInt(version).array(), tail)));
        // A plausible header (a few tensors and entries) so that the noise is read as metadata and tensor infos.
        Arbitrary<byte[]> afterHeader = Arbitraries.integers().between(0, 4).flatMap(tensors ->
                Arbitraries.integers().between(0, 8).flatMap(entries -> noise.map(tail -> concat(
                        ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN)
                                .put("GGUF".getBytes(StandardCharsets.US_ASCII)).putInt(3)
                                .putLong(tensors).putLong(entries).array(), tail))));
        return Arbitraries.frequencyOf(Tuple.of(1, noise), Tuple.of(1, afterMagic), Tuple.of(2, afterHeader));
    }

    /** 600 tries: random bytes, alone or after a valid magic and version, or after a whole plausible header. */
    @Property(tries = 600)
    void randomBytes(@ForAll("randomFiles") byte[] bytes) throws IOException {
        openAndCount(bytes);
    }

    private static byte[] concat(byte[] head, byte[] tail) {
        byte[] out = new byte[head.length + tail.length];
        System.arraycopy(head, 0, out, 0, head.length);
        System.arraycopy(tail, 0, out, head.length, tail.length);
        return out;
    }
}
