package dev.winnow.tests.gguf;

import dev.winnow.gguf.GgufFile;
import dev.winnow.gguf.GgufMetadata;
import dev.winnow.gguf.GgufTensorInfo;
import dev.winnow.gguf.GgufValue;
import dev.winnow.gguf.GgufWriter;
import dev.winnow.tests.gguf.GgufArbitraries.FileSpec;
import dev.winnow.tests.gguf.GgufArbitraries.TensorSpec;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Whatever the writer writes, the reader reads back exactly. */
class GgufRoundTripProperties {
    private static final Path DIR = TempFiles.directory("gguf-round-trip");

    @AfterContainer
    static void cleanUp() throws IOException {
        TempFiles.delete(DIR);
    }

    @Provide
    Arbitrary<FileSpec> files() {
        return GgufArbitraries.files(12, 5);
    }

    /** 200 tries: random metadata of every type (nested arrays, any Unicode, extreme integers and floats), random tensors and alignment. */
    @Property(tries = 200)
    void writeThenReadGivesBackEverything(@ForAll("files") FileSpec spec) throws IOException {
        Path file = DIR.resolve("round-trip.gguf");
        GgufWriter writer = spec.writer();
        writer.write(file);
        try (GgufFile gguf = GgufFile.open(file)) {
            assertEquals(3, gguf.version());
            assertEquals(spec.alignment(), gguf.alignment());
            assertEquals(0, gguf.dataOffset() % spec.alignment());
            assertEquals(expectedEntries(spec), List.copyOf(gguf.metadata().asMap().entrySet()));

            assertEquals(writer.tensors(), gguf.tensors());
            assertEquals(spec.tensors().size(), gguf.tensors().size());
            for (int i = 0; i < spec.tensors().size(); i++) {
                TensorSpec expected = spec.tensors().get(i);
                GgufTensorInfo info = gguf.tensors().get(i);
                assertEquals(expected.name(), info.name());
                assertEquals(expected.type(), info.type());
                assertArrayEquals(expected.shape(), info.shape());
                assertEquals(0, info.offset() % spec.alignment());
                assertArrayEquals(expected.data(), gguf.tensorData(info).toArray(ValueLayout.JAVA_BYTE), info.name());
                assertEquals(info, gguf.tensor(info.name()).orElseThrow());
            }
        }
    }

    /** 100 tries: copying a file through the reader and the writer reproduces it byte for byte. */
    @Property(tries = 100)
    void copyingAFileReproducesItsBytes(@ForAll("files") FileSpec spec) throws IOException {
        Path original = DIR.resolve("original.gguf");
        Path copy = DIR.resolve("copy.gguf");
        spec.writer().write(original);
        try (GgufFile gguf = GgufFile.open(original)) {
            GgufWriter writer = new GgufWriter().putAll(gguf.metadata());
            for (GgufTensorInfo info : gguf.tensors()) {
                writer.addTensor(info.name(), info.type(), info.shape(), gguf.tensorData(info));
            }
            writer.write(copy);
        }
        assertArrayEquals(Files.readAllBytes(original), Files.readAllBytes(copy));
    }

    /** The spec's entries in order, then general.alignment when it is not the default. */
    private static List<Map.Entry<String, GgufValue>> expectedEntries(FileSpec spec) {
        List<Map.Entry<String, GgufValue>> expected = new ArrayList<>(spec.entries());
        if (spec.alignment() != GgufMetadata.DEFAULT_ALIGNMENT) {
            expected.add(Map.entry(GgufMetadata.ALIGNMENT_KEY, GgufValue.ofUInt32(spec.alignment())));
        }
        return expected;
    }
}
