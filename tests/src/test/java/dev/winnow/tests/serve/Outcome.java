package dev.winnow.tests.serve;

import dev.winnow.engine.serve.SequenceEvent;
import dev.winnow.engine.serve.SequenceHandle;

import java.util.concurrent.TimeUnit;

/** Everything a sequence sent: its text, and the last event. */
record Outcome(String text, SequenceEvent end) {

    /** Waits for the whole sequence, failing if any event takes longer than {@code secondsPerEvent}. */
    static Outcome drain(SequenceHandle handle, int secondsPerEvent) throws InterruptedException {
        StringBuilder text = new StringBuilder();
        while (true) {
            SequenceEvent event = handle.poll(secondsPerEvent, TimeUnit.SECONDS);
            if (event == null) {
                throw new AssertionError("no event from the sequence within " + secondsPerEvent + " s");
            }
            if (event instanceof SequenceEvent.Text piece) {
                if (piece.text().isEmpty()) {
                    throw new AssertionError("an empty text event");
                }
                text.append(piece.text());
            } else {
                return new Outcome(text.toString(), event);
            }
        }
    }

    SequenceEvent.Finished finished() {
        if (end instanceof SequenceEvent.Finished f) {
            return f;
        }
        throw new AssertionError("the sequence did not finish: " + end);
    }
}
