package dev.winnow.cli;

import dev.winnow.engine.sampling.SamplerConfig;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Sampling options shared by the generating commands. */
final class SamplingOptions {
    private static final SamplerConfig DEFAULTS = SamplerConfig.defaults();

    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = {"--temperature", "--temp"}, paramLabel = "T",
            description = "Sampling temperature; 0 is greedy (default: ${DEFAULT-VALUE}).")
    float temperature = DEFAULTS.temperature();

    @Option(names = "--top-k", paramLabel = "K", description = "Keep the K most likely tokens; 0 keeps all (default: ${DEFAULT-VALUE}).")
    int topK = DEFAULTS.topK();

    @Option(names = "--top-p", paramLabel = "P", description = "Nucleus sampling mass (default: ${DEFAULT-VALUE}).")
    float topP = DEFAULTS.topP();

    @Option(names = "--min-p", paramLabel = "P",
            description = "Drop tokens less likely than P times the most likely (default: ${DEFAULT-VALUE}).")
    float minP = DEFAULTS.minP();

    @Option(names = "--repeat-penalty", paramLabel = "R",
            description = "Penalty for recently seen tokens; 1 is off (default: ${DEFAULT-VALUE}).")
    float repeatPenalty = DEFAULTS.repeatPenalty();

    @Option(names = "--repeat-last-n", paramLabel = "N",
            description = "How many recent tokens the repeat penalty looks at (default: ${DEFAULT-VALUE}).")
    int repeatLastN = DEFAULTS.repeatLastN();

    @Option(names = {"-s", "--seed"}, paramLabel = "S", description = "Random seed, for repeatable sampling (default: random).")
    Long seed;

    /** The sampler's configuration; a value out of range is a wrong command line. */
    SamplerConfig config() {
        try {
            return new SamplerConfig(temperature, topK, topP, minP, repeatPenalty, repeatLastN,
                    seed != null ? seed : System.nanoTime());
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
    }
}
