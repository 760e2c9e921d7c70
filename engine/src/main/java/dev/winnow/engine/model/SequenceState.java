package dev.winnow.engine.model;

import dev.winnow.engine.kv.KvCache;
import dev.winnow.engine.pruning.Pruner;

/**
 * What the forward pass needs of one sequence: the cache its keys and values go to, the pruner that decides
 * which of them stay, and the position its next token takes. The pass reads the position; moving it on is the
 * caller's job.
 */
public interface SequenceState {
    KvCache cache();

    Pruner pruner();

    int position();
}
