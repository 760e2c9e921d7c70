package dev.winnow.engine.pruning;

import org.eclipse.collections.api.list.primitive.MutableIntList;
import org.eclipse.collections.api.map.primitive.MutableIntFloatMap;
import org.eclipse.collections.api.map.primitive.MutableIntIntMap;
import org.eclipse.collections.impl.list.mutable.primitive.IntArrayList;
import org.eclipse.collections.impl.map.mutable.primitive.IntFloatHashMap;
import org.eclipse.collections.impl.map.mutable.primitive.IntIntHashMap;

/**
 * What pruning did to one sequence: the token at each position and, per layer, the step (query position) from
 * which each dropped token was no longer seen, with the policy's score for it (DCP: the interaction score that
 * decided, or the last one for a kept token; H2O: accumulated attention; TOVA: the last attention weight).
 */
public final class PruningTrace {
    private final MutableIntList tokens = new IntArrayList();
    private final MutableIntIntMap[] dropStep;
    private final MutableIntFloatMap[] score;

    public PruningTrace(int layers) {
        dropStep = new MutableIntIntMap[layers];
        score = new MutableIntFloatMap[layers];
        for (int l = 0; l < layers; l++) {
            dropStep[l] = new IntIntHashMap();
            score[l] = new IntFloatHashMap();
        }
    }

    /** Records the token fed at the next position. */
    public void token(int id) {
        tokens.add(id);
    }

    public int layers() {
        return dropStep.length;
    }

    /** Tokens recorded so far. */
    public int length() {
        return tokens.size();
    }

    public int tokenAt(int position) {
        return tokens.get(position);
    }

    public void dropped(int layer, int position, int step) {
        dropStep[layer].put(position, step);
    }

    public void score(int layer, int position, float value) {
        score[layer].put(position, value);
    }

    /** The step from which a layer no longer saw the token, or -1 if the layer still holds it. */
    public int dropStep(int layer, int position) {
        return dropStep[layer].getIfAbsent(position, -1);
    }

    /** The policy's score for a token in a layer, or NaN if it recorded none. */
    public float score(int layer, int position) {
        return score[layer].getIfAbsent(position, Float.NaN);
    }

    /** Layers that still hold the token. */
    public int layersHolding(int position) {
        int held = 0;
        for (MutableIntIntMap steps : dropStep) {
            if (!steps.containsKey(position)) {
                held++;
            }
        }
        return held;
    }

    /** Forgets everything (a new conversation). */
    public void clear() {
        tokens.clear();
        for (int l = 0; l < dropStep.length; l++) {
            dropStep[l].clear();
            score[l].clear();
        }
    }
}
