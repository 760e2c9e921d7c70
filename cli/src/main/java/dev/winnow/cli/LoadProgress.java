package dev.winnow.cli;

import dev.winnow.engine.model.Model;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * The progress of loading a model's layers, shown only once loading has taken a visible time: most files load
 * in well under a second, and a bar that flashes by says nothing.
 */
final class LoadProgress implements Model.LayerListener {
    static final long SHOW_AFTER_NANOS = 1_000_000_000L;

    private final PrintWriter err;
    private final String task;
    private final boolean terminal;
    private final LongSupplier clock;
    private final long started;
    private Progress progress;

    LoadProgress(PrintWriter err, String task, boolean terminal, LongSupplier clock) {
        this.err = err;
        this.task = task;
        this.terminal = terminal;
        this.clock = clock;
        this.started = clock.getAsLong();
    }

    /**
     * Loads {@code path} with a pruning adapter laid over it (null: none), showing the progress when it takes a
     * while and ending with one line on {@code log}: the model's shape and the time it took.
     */
    static Model load(PrintWriter log, Path path, Path adapter) throws IOException {
        long start = System.nanoTime();
        LoadProgress progress = of(log, path.getFileName().toString());
        Model loaded = Model.load(path, adapter, progress);
        progress.finish(String.format(Locale.ROOT, "winnow: loaded %s (%d layers, dim %,d, vocabulary %,d) in %.0f ms",
                path.getFileName(), loaded.config().layers(), loaded.config().dim(), loaded.config().vocabularySize(),
                (System.nanoTime() - start) / 1e6));
        return loaded;
    }

    /** Loading {@code file}'s layers, drawn as the launcher says stderr is. */
    static LoadProgress of(PrintWriter err, String file) {
        return new LoadProgress(err, "loading " + file, Boolean.getBoolean("winnow.stderr.terminal"), System::nanoTime);
    }

    @Override
    public void layersReady(int done, int total) {
        if (progress == null) {
            if (clock.getAsLong() - started < SHOW_AFTER_NANOS) {
                return;
            }
            progress = new Progress(err, task, total, "layers", 0, terminal, clock);
        }
        progress.update(done, "");
    }

    /** Ends the display with {@code summary} (a plain line if nothing was shown). */
    void finish(String summary) {
        if (progress != null) {
            progress.finish(summary);
        } else {
            err.println(summary);
            err.flush();
        }
    }
}
