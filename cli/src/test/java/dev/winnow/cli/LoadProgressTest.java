package dev.winnow.cli;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoadProgressTest {
    /** A clock the test moves by hand. */
    private long now;

    private String load(boolean terminal, long nanosPerLayer) {
        StringWriter text = new StringWriter();
        LoadProgress progress = new LoadProgress(new PrintWriter(text), "loading big.gguf", terminal, () -> now);
        for (int layer = 1; layer <= 20; layer++) {
            now += nanosPerLayer;
            progress.layersReady(layer, 20);
        }
        progress.finish("winnow: loaded big.gguf");
        return text.toString();
    }

    @Test
    void aFastLoadShowsOnlyItsSummary() {
        assertEquals("winnow: loaded big.gguf\n", load(true, 40_000_000L).replace(System.lineSeparator(), "\n"));
    }

    @Test
    void aSlowLoadShowsLayersInALogOncePastASecond() {
        String log = load(false, 200_000_000L); // 4 s for 20 layers: shown from layer 5 on
        assertFalse(log.contains("\r"), log);
        assertTrue(log.lines().findFirst().orElseThrow().startsWith("winnow: loading big.gguf  "), log);
        assertTrue(log.contains(" 20/20 layers"), log);
        assertTrue(log.strip().endsWith("winnow: loaded big.gguf"), log);
    }

    @Test
    void aSlowLoadDrawsABarOnATerminal() {
        String screen = load(true, 200_000_000L);
        assertTrue(screen.contains("\rwinnow: loading big.gguf ["), screen);
        assertTrue(screen.substring(screen.lastIndexOf('\r') + 1).strip().equals("winnow: loaded big.gguf"), screen);
    }
}
