package dev.winnow.cli;

import dev.winnow.engine.pruning.PruningPolicy;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;

/** Which tokens leave the KV cache, and where to show what happened. */
final class PruneOptions {
    @Option(names = "--prune", paramLabel = "SPEC",
            description = "Pruning policy: none, dcp (the learned module), dcp:keep=F (the module steered to keep about "
                    + "a fraction F of the context), dcp:budget=N (the module steered to hold at most N tokens per "
                    + "layer), dcp:offset=X (X added to every layer's bias: more kept above 0, fewer below), dcp:recent=W or "
                    + "dcp:offset=X:recent=W (the module votes only on tokens more than W behind the query: the last W stay), window:S:W (first S and last W tokens), "
                    + "h2o:B:W (B heavy hitters and the last W), tova:B (at most B, least attended-to goes) "
                    + "(default: ${DEFAULT-VALUE}).")
    String spec = "none";

    @Option(names = "--prune-adapter", paramLabel = "FILE",
            description = "A GGUF pruning module (from train-pruning or dcp-init) laid over the model, for --prune dcp.")
    Path adapter;

    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    PruningPolicy policy() {
        PruningPolicy policy;
        try {
            policy = PruningPolicy.parse(spec);
        } catch (IllegalArgumentException e) {
            // A wrong spec is a wrong command line: exit 2 with the usage hint.
            throw new CommandLine.ParameterException(command.commandLine(), e.getMessage());
        }
        if (adapter != null && !(policy instanceof PruningPolicy.Dcp)) {
            command.commandLine().getErr().printf("winnow: warning: --prune-adapter %s is not used: it only applies "
                    + "with --prune dcp (the policy is %s)%n", adapter, spec);
        }
        return policy;
    }
}
