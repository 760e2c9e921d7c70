package dev.winnow.cli;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProgressTest {
    /** A clock the test moves by hand: no test here depends on real time. */
    private long now;

    @Test
    void aLogGetsOnePlainLinePerTenthAndNoCarriageReturn() {
        StringWriter text = new StringWriter();
        Progress progress = new Progress(new PrintWriter(text), "perplexity", 50, "windows", 0, false, () -> now);
        for (int done = 1; done <= 50; done++) {
            now += 1_000_000_000L;
            progress.update(done, "ppl 3.61");
        }
        progress.finish("winnow: perplexity 3.61 over 50 windows");
        String log = text.toString();
        assertFalse(log.contains("\r"), log);
        assertEquals(11, log.lines().count(), log);
        assertTrue(log.lines().findFirst().orElseThrow()
                .equals("winnow: perplexity  10% 5/50 windows | 1.00 windows/s | ETA 45s | ppl 3.61"), log);
    }

    @Test
    void aTerminalLineIsRedrawnInPlaceAtMostTenTimesASecond() {
        StringWriter text = new StringWriter();
        Progress progress = new Progress(new PrintWriter(text), "quantize", 1000, "tensors", 0, true, () -> now);
        for (int done = 1; done < 1000; done++) {
            now += 10_000_000L; // 100 updates a second
            progress.update(done, "");
        }
        progress.finish("winnow: done");
        String screen = text.toString();
        long redraws = screen.chars().filter(c -> c == '\r').count();
        assertTrue(redraws >= 95 && redraws <= 102, redraws + " redraws in 10 s");
        assertTrue(screen.contains("[###"), screen);
        assertTrue(screen.substring(screen.lastIndexOf('\r') + 1).strip().equals("winnow: done"), screen);
    }

    @Test
    void anUnknownTotalShowsCountAndRateWithoutEta() {
        StringWriter text = new StringWriter();
        Progress progress = new Progress(new PrintWriter(text), "pull", 0, "steps", 0, true, () -> now);
        now += 2_000_000_000L;
        progress.update(4096, "");
        assertTrue(text.toString().contains("4,096 steps | 2,048 steps/s"), text.toString());
        assertFalse(text.toString().contains("ETA"), text.toString());
    }

    @Test
    void aResumedDownloadCountsOnlyThisRunInItsRate() {
        StringWriter text = new StringWriter();
        Progress progress = new Progress(new PrintWriter(text), "model.gguf", 4L << 30, "bytes", 3L << 30, false,
                () -> now);
        now += 4_000_000_000L;
        progress.update((3L << 30) + (1L << 29), "");
        assertEquals("winnow: model.gguf  87% 3.50 GiB/4.00 GiB | 128.0 MiB/s | ETA 4s", text.toString().strip());
    }

    @Test
    void aLogCanGetALineEveryKUnitsAndOneAtTheEnd() {
        StringWriter text = new StringWriter();
        Progress progress = new Progress(new PrintWriter(text), "train-pruning", 23, "steps", 3, false, () -> now)
                .loggingEvery(5);
        for (int done = 4; done <= 23; done++) {
            now += 500_000_000L;
            progress.update(done, "loss 2.5");
        }
        List<String> lines = text.toString().lines().toList();
        assertEquals(List.of("5/23", "10/23", "15/23", "20/23", "23/23"),
                lines.stream().map(line -> line.replaceAll(".* (\\d+/23) steps .*", "$1")).toList(), text.toString());
        assertTrue(lines.getFirst().endsWith("| 2.00 steps/s | ETA 9s | loss 2.5"), lines.getFirst());
    }

    @Test
    void aNoteStaysAboveTheRedrawnLine() {
        StringWriter text = new StringWriter();
        Progress progress = new Progress(new PrintWriter(text), "train-pruning", 10, "steps", 0, true, () -> now);
        now += 1_000_000_000L;
        progress.update(1, "loss 3.0");
        progress.note("eval after step 1");
        now += 1_000_000_000L;
        progress.update(2, "loss 2.9");
        String screen = text.toString();
        String[] lines = screen.split("\n");
        assertEquals(2, lines.length, screen);
        assertTrue(lines[0].startsWith("\rwinnow: train-pruning [") && lines[0].contains("\reval after step 1"), lines[0]);
        assertTrue(lines[1].startsWith("\rwinnow: train-pruning [") && lines[1].endsWith("| loss 2.9"), lines[1]);
    }

    @Test
    void sizesUseBinaryUnits() {
        assertEquals("812 B", Progress.size(812));
        assertEquals("1.50 KiB", Progress.size(1536));
        assertEquals("37.2 MiB", Progress.size(37.2 * 1024 * 1024));
    }

    @Test
    void durationsReadAsPeopleWriteThem() {
        assertEquals("42s", Progress.duration(42.2));
        assertEquals("3m07s", Progress.duration(187));
        assertEquals("2h05m", Progress.duration(7500));
    }
}
