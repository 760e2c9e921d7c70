package dev.winnow.gguf;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GgufMetadataTest {

    @Test
    void keepsOrderAndNeverChanges() {
        Map<String, GgufValue> source = new LinkedHashMap<>();
        source.put("z.last", GgufValue.ofInt32(1));
        source.put("a.first", GgufValue.ofString("x"));
        GgufMetadata metadata = GgufMetadata.of(source);
        source.put("added.later", GgufValue.ofBool(true));
        assertEquals(List.of("z.last", "a.first"), List.copyOf(metadata.asMap().keySet()));
        assertEquals(2, metadata.size());
        assertThrows(UnsupportedOperationException.class, () -> metadata.asMap().remove("z.last"));
        assertTrue(metadata.contains("a.first"));
        assertFalse(metadata.contains("added.later"));
        assertEquals("x", metadata.find("a.first").orElseThrow().asString());
        assertTrue(metadata.find("missing").isEmpty());
    }

    @Test
    void requireNamesTheMissingKey() {
        GgufMetadata metadata = GgufMetadata.of(Map.of());
        assertEquals("metadata key 'llama.block_count' is missing",
                assertThrows(NoSuchElementException.class, () -> metadata.require("llama.block_count")).getMessage());
    }

    @Test
    void nullValuesAreRefused() {
        Map<String, GgufValue> source = new LinkedHashMap<>();
        source.put("k", null);
        assertThrows(NullPointerException.class, () -> GgufMetadata.of(source));
    }
}
