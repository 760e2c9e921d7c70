package dev.winnow.engine.pruning;

import dev.winnow.engine.kv.PagedKvCache;
import dev.winnow.engine.model.LlamaModel;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.model.Pruner;
import dev.winnow.engine.model.PruningModule;

/**
 * Which tokens leave the KV cache, chosen with {@code --prune SPEC}: {@code none}; {@code dcp} (the learned
 * module), {@code dcp:keep=F} (the module steered to keep about a fraction F of the (query, earlier token) pairs),
 * {@code dcp:budget=N} (the module steered to hold at most N tokens per layer), {@code dcp:offset=X} (X added to
 * every layer's bias), {@code dcp:recent=W} (the last W tokens always seen; also after {@code dcp:offset=X:});
 * {@code window:S:W} (StreamingLLM: the first S tokens and the last W); {@code h2o:B:W} (the B heavy
 * hitters by accumulated attention plus the last W); {@code tova:B} (drop the least attended-to token of the
 * current query while over B). Every policy frees slots physically, per layer.
 */
public sealed interface PruningPolicy {

    /** The pruner of one sequence whose cache is {@code cache}; {@code trace} may be null. */
    Pruner create(Model model, PagedKvCache cache, PruningTrace trace);

    /** Floats per token the cache must keep for this policy (the interaction keys of DCP), else 0. */
    default int interactionDim(Model model) {
        return 0;
    }

    /**
     * The most tokens one layer of a sequence of {@code tokens} tokens holds at once under this policy (its prompt
     * read in blocks of {@link LlamaModel#DEFAULT_BLOCK}): what the page pool must have room for.
     */
    default long peakTokensPerLayer(long tokens) {
        return tokens;
    }

    /** Keeps everything. */
    record None() implements PruningPolicy {
        @Override
        public Pruner create(Model model, PagedKvCache cache, PruningTrace trace) {
            return Pruner.NONE;
        }

        @Override
        public String toString() {
            return "none";
        }
    }

    /**
     * The learned DCP module of the model or its adapter, deciding alone or steered toward a {@code target}; the
     * module votes only on tokens more than {@code recent} positions behind the query (0: on every earlier token),
     * so the last {@code recent} stay in view.
     */
    record Dcp(DcpTarget target, int recent) implements PruningPolicy {
        public Dcp {
            if (recent < 0) {
                throw new IllegalArgumentException("recent=W needs W >= 0, got " + recent);
            }
            if (recent > 0 && !(target instanceof DcpTarget.Own || target instanceof DcpTarget.Offset)) {
                // keep=F's calibration and budget=N's limit were made for a module that votes on every token.
                throw new IllegalArgumentException("recent=W goes with the module's own decisions or offset=X, not "
                        + target.spec().substring("dcp:".length()));
            }
        }

        /** The module's own decisions. */
        public Dcp() {
            this(new DcpTarget.Own());
        }

        /** Steered toward {@code target}, voting on every earlier token. */
        public Dcp(DcpTarget target) {
            this(target, 0);
        }

        @Override
        public Pruner create(Model model, PagedKvCache cache, PruningTrace trace) {
            return new DcpPruner(module(model), target, recent, cache, trace);
        }

        @Override
        public int interactionDim(Model model) {
            return module(model).interactionDim();
        }

        @Override
        public long peakTokensPerLayer(long tokens) {
            // A block's keys are stored before its queries vote, so the budget is exceeded by at most one block.
            return target instanceof DcpTarget.Budget(int budget)
                    ? Math.min(tokens, (long) budget + LlamaModel.DEFAULT_BLOCK) : tokens;
        }

        private static PruningModule module(Model model) {
            return model.pruningModule().orElseThrow(() -> new IllegalArgumentException(
                    "--prune dcp needs a pruning module: this model file has none; give one with --prune-adapter FILE "
                            + "(train one with train-pruning, or make a random one with dcp-init)"));
        }

        @Override
        public String toString() {
            return recent == 0 ? target.spec() : target.spec() + ":recent=" + recent;
        }
    }

    /** StreamingLLM: the first {@code sink} tokens and the last {@code window}. */
    record Window(int sink, int window) implements PruningPolicy {
        public Window {
            if (sink < 0 || window < 1) {
                throw new IllegalArgumentException("window:S:W needs S >= 0 and W >= 1, got " + sink + ":" + window);
            }
        }

        @Override
        public Pruner create(Model model, PagedKvCache cache, PruningTrace trace) {
            return new WindowPruner(sink, window, cache, trace);
        }

        @Override
        public String toString() {
            return "window:" + sink + ":" + window;
        }
    }

    /** H2O: the {@code budget} heavy hitters and the last {@code window} tokens. */
    record HeavyHitters(int budget, int window) implements PruningPolicy {
        public HeavyHitters {
            if (budget < 0 || window < 1) {
                throw new IllegalArgumentException("h2o:B:W needs B >= 0 and W >= 1, got " + budget + ":" + window);
            }
        }

        @Override
        public Pruner create(Model model, PagedKvCache cache, PruningTrace trace) {
            return new HeavyHitterPruner(budget, window, cache.geometry().layers(), cache.geometry().capacity(), cache, trace);
        }

        @Override
        public String toString() {
            return "h2o:" + budget + ":" + window;
        }
    }

    /** TOVA: at most {@code budget} tokens, dropping the least attended-to. */
    record Tova(int budget) implements PruningPolicy {
        public Tova {
            if (budget < 1) {
                throw new IllegalArgumentException("tova:B needs B >= 1, got " + budget);
            }
        }

        @Override
        public Pruner create(Model model, PagedKvCache cache, PruningTrace trace) {
            return new TovaPruner(budget, cache.geometry().layers(), cache.geometry().capacity(), cache, trace);
        }

        @Override
        public String toString() {
            return "tova:" + budget;
        }
    }

    /** Reads a {@code --prune} specification. */
    static PruningPolicy parse(String spec) {
        String[] parts = spec.strip().split(":", -1);
        try {
            return switch (parts[0]) {
                case "none" -> arity(parts, 1, new None());
                case "dcp" -> dcp(parts);
                case "window" -> arity(parts, 3, parts.length == 3 ? new Window(number(parts[1]), number(parts[2])) : null);
                case "h2o" -> arity(parts, 3, parts.length == 3 ? new HeavyHitters(number(parts[1]), number(parts[2])) : null);
                case "tova" -> arity(parts, 2, parts.length == 2 ? new Tova(number(parts[1])) : null);
                default -> throw new IllegalArgumentException("unknown pruning policy '%s'".formatted(parts[0]));
            };
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--prune %s: %s (use none, dcp, dcp:keep=F, dcp:budget=N, dcp:offset=X, dcp:recent=W, window:S:W, h2o:B:W or tova:B)"
                    .formatted(spec, e.getMessage()));
        }
    }

    private static PruningPolicy arity(String[] parts, int expected, PruningPolicy policy) {
        if (parts.length != expected) {
            throw new IllegalArgumentException("'%s' takes %d number%s".formatted(parts[0], expected - 1, expected == 2 ? "" : "s"));
        }
        return policy;
    }

    /** Reads {@code dcp[:TARGET][:recent=W]}, the target one of {@code keep=F}, {@code budget=N} and {@code offset=X}, in either order. */
    private static PruningPolicy dcp(String[] parts) {
        if (parts.length > 3) {
            throw new IllegalArgumentException("'dcp' takes at most a target and recent=W");
        }
        DcpTarget target = null;
        Integer recent = null;
        for (int i = 1; i < parts.length; i++) {
            if (parts[i].startsWith("recent=") && recent == null) {
                recent = number(parts[i].substring("recent=".length()));
            } else if (target == null) {
                target = target(parts[i]);
            } else {
                throw new IllegalArgumentException("'dcp' takes one target");
            }
        }
        return new Dcp(target == null ? new DcpTarget.Own() : target, recent == null ? 0 : recent);
    }

    /** Reads a target: {@code keep=F}, {@code budget=N} or {@code offset=X}. */
    private static DcpTarget target(String text) {
        int equals = text.indexOf('=');
        String value = text.substring(equals + 1);
        return switch (equals < 0 ? text : text.substring(0, equals)) {
            case "keep" -> new DcpTarget.Keep(decimal(value, "a fraction"));
            case "budget" -> new DcpTarget.Budget(number(value));
            case "offset" -> new DcpTarget.Offset(decimal(value, "a number"));
            default -> throw new IllegalArgumentException("'dcp:%s' is none of keep=F, budget=N, offset=X and recent=W".formatted(text));
        };
    }

    private static double decimal(String text, String what) {
        try {
            return Double.parseDouble(text);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'%s' is not %s".formatted(text, what));
        }
    }

    private static int number(String text) {
        try {
            return Integer.parseInt(text);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'%s' is not a whole number".formatted(text));
        }
    }
}
