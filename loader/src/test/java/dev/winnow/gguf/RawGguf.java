package dev.winnow.gguf;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Writes GGUF fields one by one, including wrong ones, so a test can craft any file and know every offset. */
final class RawGguf {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    /** Magic, version, tensor count and metadata count. */
    static RawGguf header(int version, long tensorCount, long entryCount) {
        return new RawGguf().raw("GGUF".getBytes(StandardCharsets.US_ASCII)).u32(version).u64(tensorCount).u64(entryCount);
    }

    long position() {
        return out.size();
    }

    RawGguf raw(byte... bytes) {
        out.write(bytes, 0, bytes.length);
        return this;
    }

    RawGguf u8(int value) {
        out.write(value);
        return this;
    }

    RawGguf u32(int value) {
        return raw(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(value).array());
    }

    RawGguf u64(long value) {
        return raw(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array());
    }

    RawGguf string(String value) {
        return string(value.getBytes(StandardCharsets.UTF_8));
    }

    RawGguf string(byte[] utf8) {
        return u64(utf8.length).raw(utf8);
    }

    /** A key and the id of its value's type; the value follows. */
    RawGguf key(String key, GgufValueType type) {
        return string(key).u32(type.id());
    }

    RawGguf entryUInt32(String key, int value) {
        return key(key, GgufValueType.UINT32).u32(value);
    }

    RawGguf tensorInfo(String name, int typeId, long offset, long... shape) {
        string(name).u32(shape.length);
        for (long dimension : shape) {
            u64(dimension);
        }
        return u32(typeId).u64(offset);
    }

    /** Zeros up to the next multiple of {@code alignment}. */
    RawGguf padTo(int alignment) {
        return raw(new byte[(int) (-position() & (alignment - 1))]);
    }

    RawGguf zeros(int count) {
        return raw(new byte[count]);
    }

    byte[] bytes() {
        return out.toByteArray();
    }

    Path writeTo(Path file) throws IOException {
        return Files.write(file, bytes());
    }
}
