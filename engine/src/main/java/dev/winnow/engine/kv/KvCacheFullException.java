package dev.winnow.engine.kv;

/** A token could not be stored because the cache is at its limit. */
public final class KvCacheFullException extends RuntimeException {
    public KvCacheFullException(String message) {
        super(message);
    }
}
