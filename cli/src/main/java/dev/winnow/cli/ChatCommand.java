package dev.winnow.cli;

import dev.winnow.engine.chat.ChatTemplate;
import dev.winnow.engine.kv.KvCacheFullException;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.pruning.PruningTrace;
import dev.winnow.engine.runtime.ContextFullException;
import dev.winnow.engine.runtime.Engine;
import dev.winnow.engine.runtime.Generator;
import dev.winnow.engine.runtime.Sequence;
import dev.winnow.engine.runtime.SequenceOptions;
import dev.winnow.engine.sampling.Sampler;
import dev.winnow.engine.tokenizer.Tokenizer;
import org.eclipse.collections.api.set.primitive.MutableIntSet;
import org.eclipse.collections.impl.set.mutable.primitive.IntHashSet;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;

/**
 * {@code winnow chat}: an interactive conversation. The whole conversation stays in the KV cache, so each
 * turn only processes the new text.
 */
@Command(name = "chat", mixinStandardHelpOptions = true,
        description = {"Chat with a model, using its chat template when it is a known one (Llama 2, Mistral, Llama 3, ChatML, Phi-3, Gemma), "
                + "else plain continuation.",
                "Commands: /reset forgets the conversation, /stats shows context use, speed and the KV cache, "
                        + "/pruning toggles a coloured view of which tokens the layers still hold, /quit leaves."})
final class ChatCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelFile modelFile;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    SamplingOptions samplingOptions;

    @Mixin
    KvOptions kvOptions;

    @Mixin
    PruneOptions pruneOptions;

    @Option(names = {"-s", "--system"}, paramLabel = "TEXT", description = "System prompt.")
    String systemPrompt;

    @Option(names = {"-n", "--tokens"}, paramLabel = "N",
            description = "Most tokens per reply; -1 for no limit but the context (default: ${DEFAULT-VALUE}).")
    int tokens = 512;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Sampler sampler = Sampler.create(samplingOptions.config());
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PruningPolicy policy = pruneOptions.policy();
        modelOptions.validate();
        try (Model model = modelFile.load(err, pruneOptions.adapter);
             Engine engine = modelOptions.engine(model, kvOptions.config(), policy, 1, err)) {
            Tokenizer tokenizer = model.tokenizer();
            ChatTemplate.Detection detection = ChatTemplate.detect(model.vocabulary().chatTemplate());
            ChatTemplate template = detection.template();
            if (!detection.recognised()) {
                err.println("winnow: warning: " + detection.reason());
            }
            err.printf("winnow: chat template: %s. Type /quit to leave, /reset to start over, /stats for figures.%n",
                    template.name());
            MutableIntSet stopIds = new IntHashSet();
            for (String stop : template.stopTokens()) {
                tokenizer.specialTokenId(stop).ifPresent(stopIds::add);
            }
            PruningTrace trace = new PruningTrace(model.config().layers());
            Sequence sequence = engine.newSequence(new SequenceOptions(sampler,
                    id -> tokenizer.isEndOfGeneration(id) || stopIds.contains(id), null, trace));
            boolean showPruning = false;
            Conversation conversation = new Conversation();
            Generator.Result last = null;
            while (true) {
                out.print("> ");
                out.flush();
                String line = in.readLine();
                if (line == null || line.strip().equals("/quit")) {
                    break;
                }
                switch (line.strip()) {
                    case "" -> {
                        continue;
                    }
                    case "/reset" -> {
                        sequence.reset();
                        conversation = new Conversation();
                        err.println("winnow: conversation forgotten");
                        continue;
                    }
                    case "/stats" -> {
                        printStats(err, sequence, last);
                        KvStatsTable.print(err, sequence.cache(), policy);
                        continue;
                    }
                    case "/pruning" -> {
                        showPruning = !showPruning;
                        err.println("winnow: pruning view " + (showPruning ? "on" : "off"));
                        if (showPruning) {
                            PruningView.print(out, trace, tokenizer);
                        }
                        continue;
                    }
                    default -> {
                    }
                }
                String text = conversation.pending
                        + (conversation.turns == 0 ? template.beginConversation(systemPrompt) : "")
                        + template.userTurn(line, conversation.turns == 0);
                // Some templates (Llama 2's) write the BOS text themselves: then it must not be added twice.
                boolean addBos = conversation.turns == 0 && model.vocabulary().addBos()
                        && !text.startsWith(tokenizer.piece(tokenizer.bos()));
                int[] input = tokenizer.encode(text, addBos, true);
                try {
                    last = Generator.generate(sequence, input, tokens, false, piece -> {
                        out.print(piece);
                        out.flush();
                    });
                } catch (ContextFullException | KvCacheFullException e) {
                    out.println();
                    err.println("winnow: " + e.getMessage() + " /reset starts a new conversation.");
                    sequence.reset();
                    conversation = new Conversation();
                    continue;
                }
                out.println();
                if (showPruning) {
                    PruningView.print(out, trace, tokenizer);
                }
                out.flush();
                conversation.turns++;
                conversation.pending = template.afterAssistantTurn();
                if (last.stopReason() == Generator.StopReason.CONTEXT_FULL) {
                    err.println("winnow: the context is full; /reset starts a new conversation");
                }
            }
        }
        return 0;
    }

    private static void printStats(PrintWriter err, Sequence sequence, Generator.Result last) {
        err.printf("winnow: context %d / %d tokens, KV cache %,d bytes%n", sequence.length(), sequence.contextLength(),
                sequence.cache().bytesHeld());
        if (last != null) {
            err.printf("winnow: last turn: prompt %d tokens at %.1f tok/s, reply %d tokens at %.1f tok/s%n",
                    last.promptTokens(), last.promptTokensPerSecond(), last.generatedTokens(),
                    last.generationTokensPerSecond());
        }
    }

    /** Where the conversation stands between turns. */
    private static final class Conversation {
        int turns;
        /** Text the template wants fed after the last reply (an end-of-turn marker), sent with the next turn. */
        String pending = "";
    }
}
