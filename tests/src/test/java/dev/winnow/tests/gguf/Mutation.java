package dev.winnow.tests.gguf;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Tuple;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;

/** A way to damage a file. Places are fractions, resolved against the file's header or its whole length. */
sealed interface Mutation {

    byte[] apply(byte[] file, int headerLength);

    /** The parts of a file a mutation can strike; mostly the header, where damage matters most. */
    enum Region {
        /** The fixed fields and the first metadata entry. */
        START,
        /** Anywhere in the header (mostly metadata). */
        HEADER,
        /** The last 2 KiB of the header: the tensor infos of a model. */
        HEADER_END,
        FILE
    }

    record Spot(Region region, double fraction) {
        int in(byte[] file, int headerLength) {
            int header = Math.min(headerLength, file.length);
            int from = region == Region.HEADER_END ? Math.max(0, header - 2048) : 0;
            int to = switch (region) {
                case START -> Math.min(64, file.length);
                case HEADER, HEADER_END -> header;
                case FILE -> file.length;
            };
            return from + (int) Math.min(to - from, fraction * (to - from));
        }
    }

    record Flips(List<Spot> spots, List<Integer> masks) implements Mutation {
        @Override
        public byte[] apply(byte[] file, int headerLength) {
            byte[] out = file.clone();
            for (int i = 0; i < spots.size(); i++) {
                int at = spots.get(i).in(file, headerLength);
                if (at < out.length) {
                    out[at] ^= (byte) (int) masks.get(i % masks.size());
                }
            }
            return out;
        }
    }

    record Truncate(Spot spot) implements Mutation {
        @Override
        public byte[] apply(byte[] file, int headerLength) {
            return Arrays.copyOf(file, spot.in(file, headerLength));
        }
    }

    record Insert(Spot spot, byte[] bytes) implements Mutation {
        @Override
        public byte[] apply(byte[] file, int headerLength) {
            int at = spot.in(file, headerLength);
            ByteArrayOutputStream out = new ByteArrayOutputStream(file.length + bytes.length);
            out.write(file, 0, at);
            out.write(bytes, 0, bytes.length);
            out.write(file, at, file.length - at);
            return out.toByteArray();
        }

        @Override
        public String toString() {
            return "Insert[" + spot + ", " + Arrays.toString(bytes) + "]";
        }
    }

    record Delete(Spot spot, int length) implements Mutation {
        @Override
        public byte[] apply(byte[] file, int headerLength) {
            int at = spot.in(file, headerLength);
            int end = Math.min(file.length, at + length);
            byte[] out = new byte[file.length - (end - at)];
            System.arraycopy(file, 0, out, 0, at);
            System.arraycopy(file, end, out, at, file.length - end);
            return out;
        }
    }

    /** Writes the low {@code width} bytes of {@code value}, little-endian, at a spot. */
    record Overwrite(Spot spot, long value, int width) implements Mutation {
        @Override
        public byte[] apply(byte[] file, int headerLength) {
            return overwrite(file, spot.in(file, headerLength), value, width);
        }
    }

    /** Sets a fixed header field (the version at 4, the tensor count at 8, the metadata count at 16). */
    record SetHeaderField(int offset, long value, int width) implements Mutation {
        @Override
        public byte[] apply(byte[] file, int headerLength) {
            return overwrite(file, offset, value, width);
        }
    }

    private static byte[] overwrite(byte[] file, int at, long value, int width) {
        byte[] out = file.clone();
        byte[] bytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array();
        for (int i = 0; i < width && at + i < out.length; i++) {
            out[at + i] = bytes[i];
        }
        return out;
    }

    /** One mutation of any kind, chosen by a coverage-guided fuzzer's input (the counterpart of {@link #any}). */
    static Mutation fuzzed(FuzzedDataProvider in) {
        Spot spot = new Spot(in.pickValue(Region.values()), in.consumeProbabilityDouble());
        return switch (in.consumeInt(0, 5)) {
            case 0 -> new Flips(List.of(spot), List.of(in.consumeInt(1, 255)));
            case 1 -> new Truncate(spot);
            case 2 -> new Insert(spot, new byte[] {in.consumeByte(), in.consumeByte(), in.consumeByte(), in.consumeByte()});
            case 3 -> new Delete(spot, in.consumeInt(1, 16));
            case 4 -> new SetHeaderField(in.pickValue(new int[] {4, 8, 16}), in.consumeLong(), in.pickValue(new int[] {4, 8}));
            default -> new Overwrite(spot, in.consumeLong(), in.pickValue(new int[] {1, 2, 4, 8}));
        };
    }

    /** One or two mutations of any kind. */
    static Arbitrary<List<Mutation>> sequences() {
        return any().list().ofMinSize(1).ofMaxSize(2);
    }

    private static Arbitrary<Mutation> any() {
        Arbitrary<Region> regions = Arbitraries.frequencyOf(Tuple.of(1, Arbitraries.just(Region.START)),
                Tuple.of(2, Arbitraries.just(Region.HEADER)), Tuple.of(3, Arbitraries.just(Region.HEADER_END)),
                Tuple.of(2, Arbitraries.just(Region.FILE)));
        Arbitrary<Spot> spots = Combinators.combine(regions, Arbitraries.doubles().between(0, 1)).as(Spot::new);
        Arbitrary<Long> extremes = Arbitraries.oneOf(
                Arbitraries.of(0L, 1L, -1L, Long.MAX_VALUE, Long.MIN_VALUE, 0xFFFF_FFFFL, 0x8000_0000L,
                        0x7FFF_FFFFL, 1L << 32, 1L << 40, 1L << 62),
                Arbitraries.longs());
        return Arbitraries.oneOf(
                Combinators.combine(spots.list().ofMinSize(1).ofMaxSize(4),
                        Arbitraries.integers().between(1, 255).list().ofMinSize(1).ofMaxSize(8)).as(Flips::new),
                spots.map(Truncate::new),
                Combinators.combine(spots, Arbitraries.bytes().array(byte[].class).ofMinSize(1).ofMaxSize(16))
                        .as(Insert::new),
                Combinators.combine(spots, Arbitraries.integers().between(1, 16)).as(Delete::new),
                Combinators.combine(Arbitraries.of(4, 8, 16), extremes, Arbitraries.of(4, 8)).as(SetHeaderField::new),
                Combinators.combine(spots, extremes, Arbitraries.of(1, 2, 4, 8)).as(Overwrite::new));
    }
}
