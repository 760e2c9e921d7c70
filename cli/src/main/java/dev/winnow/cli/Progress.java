package dev.winnow.cli;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * The progress display of every long task (loading, pull, quantize, perplexity, train-pruning). On a terminal it
 * redraws one line in place, at most ten times a second: a bar, the count, the rate, the time left and what the task
 * wants to say (a running perplexity, a loss). Anywhere else (a log file, a pipe) it writes a plain line each time
 * another tenth of the work is done (or every {@link #loggingEvery} units), so a log holds a few readable lines and
 * no carriage returns. Lines that must stay (an evaluation, a checkpoint) go through {@link #note}.
 *
 * <p>The launcher tells Java whether stderr is a terminal ({@code -Dwinnow.stderr.terminal=true}); the JVM cannot
 * see it through the launcher's filter.
 */
final class Progress {
    private static final long REDRAW_NANOS = 100_000_000L;
    private static final int BAR_WIDTH = 24;
    private static final int LOG_STEPS = 10;

    private final PrintWriter err;
    private final String task;
    private final long total;
    private final String unit;
    private final boolean bytes;
    private final long resumedFrom;
    private final boolean terminal;
    private final LongSupplier clock;
    private final long started;
    private long lastDrawn;
    private int loggedSteps;
    private long logEvery;
    private long lastLogged;
    private int drawnWidth;

    /**
     * @param unit        what is counted ("windows"); "bytes" shows sizes in KiB, MiB and GiB
     * @param resumedFrom units already done before this run (a resumed download): not counted in the rate
     */
    Progress(PrintWriter err, String task, long total, String unit, long resumedFrom, boolean terminal,
             LongSupplier clock) {
        if (total < 0 || resumedFrom < 0) {
            throw new IllegalArgumentException("negative total " + total + " or start " + resumedFrom);
        }
        this.err = err;
        this.task = task;
        this.total = total;
        this.unit = unit;
        this.bytes = unit.equals("bytes");
        this.resumedFrom = resumedFrom;
        this.terminal = terminal;
        this.clock = clock;
        this.started = clock.getAsLong();
        this.lastDrawn = started - REDRAW_NANOS;
        this.lastLogged = resumedFrom;
    }

    /** Progress of {@code total} {@code unit}s (0: unknown) on stderr, drawn as the launcher says stderr is. */
    static Progress start(PrintWriter err, String task, long total, String unit) {
        return resume(err, task, total, unit, 0);
    }

    /** As {@link #start}, for work of which {@code resumedFrom} units were done by an earlier run. */
    static Progress resume(PrintWriter err, String task, long total, String unit, long resumedFrom) {
        return new Progress(err, task, total, unit, resumedFrom, Boolean.getBoolean("winnow.stderr.terminal"),
                System::nanoTime);
    }

    /** {@code done} units are done; {@code detail} (may be empty) is shown after the figures. */
    void update(long done, String detail) {
        long now = clock.getAsLong();
        if (terminal) {
            if (now - lastDrawn >= REDRAW_NANOS || done == total) {
                draw(line(done, detail, now));
                lastDrawn = now;
            }
        } else if (logEvery > 0) {
            if (done / logEvery > lastLogged / logEvery || done == total && lastLogged < done) {
                lastLogged = done;
                err.println(line(done, detail, now));
                err.flush();
            }
        } else if (total > 0) {
            int steps = (int) Math.min(LOG_STEPS, done * LOG_STEPS / total);
            if (steps > loggedSteps) {
                loggedSteps = steps;
                err.println(line(done, detail, now));
                err.flush();
            }
        }
    }

    /** In a log, a line every {@code units} units (and at the end) instead of one per tenth. */
    Progress loggingEvery(long units) {
        if (units < 1) {
            throw new IllegalArgumentException("log interval " + units);
        }
        this.logEvery = units;
        return this;
    }

    /** A line that stays: on a terminal it replaces the progress line, which is drawn again below it. */
    void note(String text) {
        if (terminal && drawnWidth > 0) {
            draw(text);
            err.println();
            drawnWidth = 0;
            lastDrawn = clock.getAsLong() - REDRAW_NANOS;
        } else {
            err.println(text);
        }
        err.flush();
    }

    /** Ends the display: the terminal line is replaced by {@code summary}; a log gets the summary line. */
    void finish(String summary) {
        if (terminal) {
            draw(summary);
            err.println();
        } else {
            err.println(summary);
        }
        err.flush();
    }

    private void draw(String text) {
        int pad = Math.max(0, drawnWidth - text.length());
        err.print("\r" + text + " ".repeat(pad));
        err.flush();
        drawnWidth = text.length();
    }

    private String line(long done, String detail, long now) {
        StringBuilder line = new StringBuilder("winnow: ").append(task).append(' ');
        double seconds = (now - started) / 1e9;
        double rate = seconds > 0 ? (done - resumedFrom) / seconds : 0;
        if (total > 0) {
            if (terminal) {
                int filled = (int) Math.min(BAR_WIDTH, done * BAR_WIDTH / total);
                line.append('[').append("#".repeat(filled)).append(".".repeat(BAR_WIDTH - filled)).append("] ");
            }
            line.append(String.format(Locale.ROOT, "%3d%% %s/%s", done * 100 / total, amount(done), amount(total)));
        } else {
            line.append(amount(done));
        }
        if (!bytes) {
            line.append(' ').append(unit);
        }
        if (rate > 0) {
            line.append(" | ").append(bytes ? size(rate) : rate(rate) + " " + unit).append("/s");
            if (total > 0 && done < total) {
                line.append(" | ETA ").append(duration((total - done) / rate));
            }
        }
        if (!detail.isEmpty()) {
            line.append(" | ").append(detail);
        }
        return line.toString();
    }

    private String amount(long count) {
        return bytes ? size(count) : String.format(Locale.ROOT, "%,d", count);
    }

    /** "812 B", "1.5 KiB", "37.2 MiB", "1.08 GiB". */
    static String size(double bytes) {
        if (bytes < 1024) {
            return String.format(Locale.ROOT, "%.0f B", bytes);
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double value = bytes / 1024;
        int unit = 0;
        while (value >= 1024 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        return String.format(Locale.ROOT, value < 10 ? "%.2f %s" : "%.1f %s", value, units[unit]);
    }

    private static String rate(double rate) {
        return rate >= 100 ? String.format(Locale.ROOT, "%,.0f", rate) : String.format(Locale.ROOT, "%.2f", rate);
    }

    /** "42s", "3m07s", "2h05m". */
    static String duration(double seconds) {
        long s = Math.round(seconds);
        if (s < 60) {
            return s + "s";
        }
        if (s < 3600) {
            return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        }
        return String.format(Locale.ROOT, "%dh%02dm", s / 3600, s / 60 % 60);
    }
}
