package dev.winnow.engine.model;

/** A model file that Winnow cannot run: a missing or inconsistent key, a tensor of the wrong shape or type. */
public final class ModelLoadException extends RuntimeException {
    public ModelLoadException(String message) {
        super(message);
    }
}
