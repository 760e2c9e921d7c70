package dev.winnow.gguf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One crafted file per rule: each is refused with a message that says what is wrong and where. */
class GgufFileValidationTest {
    private static final int F32 = 0;
    private static final int Q8_0 = 8;

    @TempDir
    Path dir;

    private void rejects(RawGguf raw, String what, long offset) throws IOException {
        rejects(raw.bytes(), what, offset);
    }

    private void rejects(byte[] bytes, String what, long offset) throws IOException {
        Path file = Files.write(dir.resolve("crafted.gguf"), bytes);
        GgufFormatException e = assertThrows(GgufFormatException.class, () -> GgufFile.open(file).close());
        String message = e.getMessage();
        assertTrue(message.contains(what), () -> "expected '" + what + "' in: " + message);
        assertEquals(offset, e.offset(), message);
        assertTrue(message.startsWith("crafted.gguf: ") && message.endsWith(" at byte " + offset), message);
        assertEquals(file, e.file().orElseThrow());
    }

    /** The header and the info (at byte 24) of one F32 tensor, padded to 32; the data is up to the caller. */
    private static RawGguf oneTensor(long offset, long... shape) {
        return RawGguf.header(3, 1, 0).tensorInfo("t", F32, offset, shape).padTo(32);
    }

    // --- header ---

    @Test
    void emptyAndTinyFiles() throws IOException {
        rejects(new byte[0], "0 bytes is too short", 0);
        rejects(new byte[] {'G', 'G', 'U'}, "3 bytes is too short", 0);
    }

    @Test
    void wrongMagic() throws IOException {
        rejects("GGML0000000000000000000000".getBytes(StandardCharsets.US_ASCII), "not a GGUF file", 0);
    }

    @Test
    void versionOneIsRefused() throws IOException {
        rejects(RawGguf.header(1, 0, 0), "version 1 is not supported", 4);
    }

    @Test
    void bigEndianFileIsRecognised() throws IOException {
        rejects(RawGguf.header(Integer.reverseBytes(3), 0, 0), "big-endian", 4);
        rejects(RawGguf.header(Integer.reverseBytes(2), 0, 0), "version 2 byte-swapped", 4);
    }

    @Test
    void unknownVersion() throws IOException {
        rejects(RawGguf.header(4, 0, 0), "unknown GGUF version 4", 4);
        rejects(RawGguf.header(-1, 0, 0), "unknown GGUF version 4294967295", 4);
    }

    @Test
    void truncatedHeader() throws IOException {
        rejects(new RawGguf().raw("GGUF".getBytes(StandardCharsets.US_ASCII)).u32(3).u32(0),
                "the file ends in the tensor count", 8);
        rejects(new RawGguf().raw("GGUF".getBytes(StandardCharsets.US_ASCII)).u32(3).u64(0),
                "the file ends in the metadata count", 16);
    }

    @Test
    void countsThatCannotFit() throws IOException {
        rejects(RawGguf.header(3, -1, 0), "claims 18446744073709551615 tensors", 8);
        rejects(RawGguf.header(3, 0, Long.MAX_VALUE), "9223372036854775807 metadata entries", 8);
        // 13 bytes follow: room for one entry (13 bytes) but not for one entry and one tensor (13 + 32).
        rejects(RawGguf.header(3, 1, 1).zeros(13), "cannot fit in the 13 bytes that follow", 8);
    }

    @Test
    void versionTwoIsRead() throws IOException {
        Path file = RawGguf.header(2, 0, 1).entryUInt32("a.b", 7).writeTo(dir.resolve("v2.gguf"));
        try (GgufFile gguf = GgufFile.open(file)) {
            assertEquals(2, gguf.version());
            assertEquals(7, gguf.metadata().require("a.b").asInt());
        }
    }

    // --- metadata ---

    @Test
    void stringLongerThanTheFile() throws IOException {
        rejects(RawGguf.header(3, 0, 1).u64(1L << 40).zeros(20), "a metadata key of 1099511627776 bytes is longer than the 20 bytes left", 24);
        rejects(RawGguf.header(3, 0, 1).u64(-1).zeros(20), "18446744073709551615 bytes", 24);
        RawGguf raw = RawGguf.header(3, 0, 1).key("k", GgufValueType.STRING);
        long at = raw.position();
        rejects(raw.u64(100).zeros(5), "a string in 'k' of 100 bytes is longer than the 5 bytes left", at);
    }

    @Test
    void duplicateKey() throws IOException {
        RawGguf raw = RawGguf.header(3, 0, 2).entryUInt32("same", 1);
        long at = raw.position();
        rejects(raw.entryUInt32("same", 2), "duplicate metadata key 'same'", at);
    }

    @Test
    void unknownValueType() throws IOException {
        RawGguf raw = RawGguf.header(3, 0, 1).string("k");
        long at = raw.position();
        rejects(raw.u32(13).u64(0), "unknown value type id 13 in 'k'", at);
        RawGguf inArray = RawGguf.header(3, 0, 1).key("k", GgufValueType.ARRAY);
        long elementTypeAt = inArray.position();
        rejects(inArray.u32(-2).u64(0), "unknown value type id 4294967294 in 'k'", elementTypeAt);
    }

    @Test
    void invalidUtf8() throws IOException {
        // "ab" then a lone continuation byte: the error points at that byte.
        RawGguf key = RawGguf.header(3, 0, 1);
        long keyBytesAt = key.position() + 8;
        rejects(key.string(new byte[] {'a', 'b', (byte) 0x80}).u32(4).u32(0), "invalid UTF-8 in a metadata key", keyBytesAt + 2);
        // A truncated two-byte sequence at the end of a value.
        RawGguf value = RawGguf.header(3, 0, 1).key("k", GgufValueType.STRING);
        long valueBytesAt = value.position() + 8;
        rejects(value.string(new byte[] {'x', (byte) 0xC3}), "invalid UTF-8 in a string in 'k'", valueBytesAt + 1);
        // An encoded surrogate (CESU style) is not UTF-8 either.
        RawGguf surrogate = RawGguf.header(3, 0, 1).key("k", GgufValueType.STRING);
        long surrogateAt = surrogate.position() + 8;
        rejects(surrogate.string(new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80}), "invalid UTF-8", surrogateAt);
    }

    @Test
    void boolMustBeZeroOrOne() throws IOException {
        RawGguf raw = RawGguf.header(3, 0, 1).key("flag", GgufValueType.BOOL);
        long at = raw.position();
        rejects(raw.u8(2), "BOOL in 'flag' is 2", at);
        RawGguf array = RawGguf.header(3, 0, 1).key("flags", GgufValueType.ARRAY).u32(GgufValueType.BOOL.id()).u64(3);
        long elementsAt = array.position();
        rejects(array.u8(1).u8(0).u8(255), "BOOL in 'flags' is 255", elementsAt + 2);
    }

    @Test
    void truncatedScalar() throws IOException {
        RawGguf raw = RawGguf.header(3, 0, 1).key("big", GgufValueType.UINT64);
        long at = raw.position();
        rejects(raw.u32(0), "the file ends in the value of 'big': 8 bytes needed, 4 left", at);
    }

    @Test
    void arrayCountBeyondTheBytesLeft() throws IOException {
        RawGguf strings = RawGguf.header(3, 0, 1).key("tokens", GgufValueType.ARRAY).u32(GgufValueType.STRING.id());
        long at = strings.position();
        // 3 strings need at least 24 bytes (8 each, for their lengths); 23 follow.
        rejects(strings.u64(3).zeros(23), "claims 3 STRING elements, which need at least 8 bytes each, but 23 bytes are left", at);
        RawGguf floats = RawGguf.header(3, 0, 1).key("scores", GgufValueType.ARRAY).u32(GgufValueType.FLOAT32.id());
        long floatsAt = floats.position();
        rejects(floats.u64(Long.MAX_VALUE / 2).zeros(64), "claims 4611686018427387903 FLOAT32 elements", floatsAt);
        RawGguf nested = RawGguf.header(3, 0, 1).key("n", GgufValueType.ARRAY).u32(GgufValueType.ARRAY.id());
        long nestedAt = nested.position();
        rejects(nested.u64(2).zeros(23), "need at least 12 bytes each", nestedAt);
    }

    @Test
    void nestingDepthIsBounded() throws IOException {
        int levels = GgufArray.MAX_DEPTH + 1;
        RawGguf raw = RawGguf.header(3, 0, 1).key("deep", GgufValueType.ARRAY);
        for (int level = 1; level < levels; level++) {
            raw.u32(GgufValueType.ARRAY.id()).u64(1);
        }
        long at = raw.position();
        rejects(raw.u32(GgufValueType.UINT8.id()).u64(0), "arrays in 'deep' nest deeper than 16 levels", at);
    }

    @Test
    void deepestAllowedNestingIsRead() throws IOException {
        RawGguf raw = RawGguf.header(3, 0, 1).key("deep", GgufValueType.ARRAY);
        for (int level = 1; level < GgufArray.MAX_DEPTH; level++) {
            raw.u32(GgufValueType.ARRAY.id()).u64(1);
        }
        raw.u32(GgufValueType.UINT8.id()).u64(1).u8(200);
        try (GgufFile gguf = GgufFile.open(raw.writeTo(dir.resolve("deep.gguf")))) {
            GgufArray array = gguf.metadata().require("deep").asArray();
            assertEquals(GgufArray.MAX_DEPTH, array.depth());
            while (array.elementType() == GgufValueType.ARRAY) {
                array = array.arrays()[0];
            }
            assertEquals(200, array.element(0).asInt());
        }
    }

    @Test
    void alignmentMustBeAUInt32PowerOfTwo() throws IOException {
        for (int bad : new int[] {0, 48, -1}) {
            RawGguf raw = RawGguf.header(3, 0, 1).key(GgufMetadata.ALIGNMENT_KEY, GgufValueType.UINT32);
            long at = raw.position();
            rejects(raw.u32(bad), "general.alignment is " + Integer.toUnsignedString(bad), at);
        }
        RawGguf signed = RawGguf.header(3, 0, 1).key(GgufMetadata.ALIGNMENT_KEY, GgufValueType.INT32);
        long at = signed.position();
        rejects(signed.u32(64), "general.alignment must be a UINT32, not INT32", at);
    }

    // --- tensor infos ---

    @Test
    void duplicateTensorName() throws IOException {
        RawGguf raw = RawGguf.header(3, 2, 0).tensorInfo("w", F32, 0, 8);
        long at = raw.position();
        rejects(raw.tensorInfo("w", F32, 32, 8).padTo(32).zeros(64), "duplicate tensor name 'w'", at);
    }

    @Test
    void dimensionCountMustBeOneToFour() throws IOException {
        for (int dimensions : new int[] {0, 5, -1}) {
            RawGguf raw = RawGguf.header(3, 1, 0).string("t");
            long at = raw.position();
            rejects(raw.u32(dimensions).zeros(64), "tensor 't' has " + Integer.toUnsignedString(dimensions) + " dimensions; 1 to 4", at);
        }
    }

    @Test
    void dimensionsMustBePositive() throws IOException {
        long at = 24 + 8 + 1;
        rejects(oneTensor(0, 4, 0).zeros(32), "tensor 't': dimension 1 is 0", at);
        rejects(oneTensor(0, -5, 1).zeros(32), "dimension 0 is 18446744073709551611", at);
    }

    @Test
    void elementCountMustNotOverflow() throws IOException {
        rejects(oneTensor(0, 1L << 32, 1L << 32).zeros(32), "more than 2^63-1 elements", 24 + 8 + 1);
        // 2^61 F32 values fit in a long but their 2^63 bytes do not.
        rejects(oneTensor(0, 1L << 61).zeros(32), "takes more than 2^63-1 bytes", 24 + 8 + 1);
    }

    @Test
    void rowsMustBeWholeBlocks() throws IOException {
        RawGguf raw = RawGguf.header(3, 1, 0).string("q");
        long at = raw.position();
        rejects(raw.u32(2).u64(33).u64(2).u32(Q8_0).u64(0).padTo(32).zeros(128),
                "row of 33 elements is not a whole number of Q8_0 blocks of 32", at);
    }

    @Test
    void unknownTensorType() throws IOException {
        for (int id : new int[] {4, 31, 99, -1}) {
            RawGguf raw = RawGguf.header(3, 1, 0).string("t").u32(1).u64(32);
            long at = raw.position();
            rejects(raw.u32(id).u64(0).padTo(32).zeros(128), "tensor 't' has unknown type id " + Integer.toUnsignedString(id), at);
        }
    }

    @Test
    void dataOffsetMustBeAligned() throws IOException {
        long offsetAt = 24 + 8 + 1 + 4 + 8 + 4;
        rejects(oneTensor(16, 4).zeros(64), "data offset 16, which is not a multiple of the alignment 32", offsetAt);
    }

    @Test
    void alignmentFromMetadataApplies() throws IOException {
        RawGguf raw = RawGguf.header(3, 1, 1).entryUInt32(GgufMetadata.ALIGNMENT_KEY, 64);
        long offsetAt = raw.position() + 8 + 1 + 4 + 8 + 4;
        rejects(raw.tensorInfo("t", F32, 32, 4).padTo(64).zeros(128), "not a multiple of the alignment 64", offsetAt);
    }

    @Test
    void dataMustLieInsideTheFile() throws IOException {
        long offsetAt = 24 + 8 + 1 + 4 + 8 + 4;
        long dataOffset = 64;
        // 8 F32 values need 32 bytes; only 31 follow the data start.
        rejects(oneTensor(0, 8).zeros(31), "needs 32 bytes from byte " + dataOffset + ", past the end of the 95-byte file", offsetAt);
        rejects(oneTensor(1L << 40, 8).zeros(32), "data offset 1099511627776, beyond the end", offsetAt);
        rejects(oneTensor(-32, 8).zeros(32), "data offset 18446744073709551584, beyond the end", offsetAt);
        // Inside the file, but the data section starts past its end.
        rejects(RawGguf.header(3, 1, 0).tensorInfo("t", F32, 0, 1), "needs 4 bytes from byte 64, past the end of the 57-byte file", offsetAt);
    }

    @Test
    void tensorDataMustNotOverlap() throws IOException {
        RawGguf raw = RawGguf.header(3, 2, 0).tensorInfo("first", F32, 0, 16);
        long secondOffsetAt = raw.position() + 8 + "second".length() + 4 + 8 + 4;
        // first takes bytes [0, 64); second starts at 32.
        rejects(raw.tensorInfo("second", F32, 32, 8).padTo(32).zeros(64),
                "the data of tensor 'second' overlaps that of tensor 'first'", secondOffsetAt);
        // The same overlap with the later tensor listed first.
        RawGguf reversed = RawGguf.header(3, 2, 0).tensorInfo("late", F32, 32, 8);
        long lateOffsetAt = 24 + 8 + "late".length() + 4 + 8 + 4;
        rejects(reversed.tensorInfo("early", F32, 0, 16).padTo(32).zeros(64),
                "the data of tensor 'late' overlaps that of tensor 'early'", lateOffsetAt);
    }

    @Test
    void truncatedTensorInfo() throws IOException {
        RawGguf raw = RawGguf.header(3, 1, 0).string("tensor-name-long").u32(2).u64(4);
        long at = raw.position();
        rejects(raw.u32(0), "the file ends in the shape of tensor 'tensor-name-long': 8 bytes needed, 4 left", at);
    }

    @Test
    void messageWithoutAFileName() {
        GgufFormatException e = new GgufFormatException("something odd", 12);
        assertEquals("something odd at byte 12", e.getMessage());
        assertTrue(e.file().isEmpty());
        assertEquals("something odd", e.what());
    }
}
