package dev.winnow.cli;

import dev.winnow.engine.chat.ChatMessage;
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

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code winnow chat}: an interactive conversation. The whole conversation stays in the KV cache, so each
 * turn only processes the new text.
 */
@Command(name = "chat", mixinStandardHelpOptions = true,
        description = {"Chat with a model, using its chat template when it is a known one (Llama 2, Mistral, Llama 3, ChatML, Phi-3, Gemma), "
                + "else plain continuation.",
                "On a terminal the input line has history (arrows, Ctrl-R) and completes commands with Tab; Ctrl-C stops "
                        + "the reply being written and keeps the conversation; Ctrl-D or /exit leaves.",
                "Commands: /help, /reset, /stats, /pruning, /save FILE, /load FILE, /exit."})
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

    @Option(names = "--system", paramLabel = "TEXT", description = "System prompt.")
    String systemPrompt;

    @Option(names = {"-n", "--tokens", "--n-predict"}, paramLabel = "N",
            description = "Most tokens per reply; -1 for no limit but the context (default: ${DEFAULT-VALUE}).")
    int tokens = 512;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Sampler sampler = Sampler.create(samplingOptions.config());
        PruningPolicy policy = pruneOptions.policy();
        modelOptions.validate();
        try (Model model = modelFile.load(err, pruneOptions.adapter);
             Engine engine = modelOptions.engine(model, kvOptions.config(), policy, 1, err);
             ChatInput input = ChatInput.open(out, SlashCommand.words())) {
            Tokenizer tokenizer = model.tokenizer();
            ChatTemplate.Detection detection = ChatTemplate.detect(model.vocabulary().chatTemplate());
            if (!detection.recognised()) {
                err.println("winnow: warning: " + detection.reason());
            }
            err.printf("winnow: chat template: %s. /help lists the commands; Ctrl-C stops a reply; Ctrl-D or /exit leaves.%n",
                    detection.template().name());
            MutableIntSet stopIds = new IntHashSet();
            for (String stop : detection.template().stopTokens()) {
                tokenizer.specialTokenId(stop).ifPresent(stopIds::add);
            }
            PruningTrace trace = new PruningTrace(model.config().layers());
            Sequence sequence = engine.newSequence(new SequenceOptions(sampler,
                    id -> tokenizer.isEndOfGeneration(id) || stopIds.contains(id), null, trace));
            Chat chat = new Chat(model, sequence, detection.template(), systemPrompt, out, err);
            ThinLayerWarning thinLayers = policy instanceof PruningPolicy.Dcp ? new ThinLayerWarning(model.config().layers()) : null;
            boolean showPruning = false;
            String line;
            while ((line = input.readLine("> ")) != null) {
                SlashCommand.Use use;
                try {
                    use = SlashCommand.parse(line);
                } catch (IllegalArgumentException e) {
                    err.println("winnow: " + e.getMessage());
                    continue;
                }
                if (use == null) {
                    if (!line.isBlank()) {
                        chat.reply(line, input);
                        if (thinLayers != null) {
                            thinLayers.check(sequence.cache(), err);
                        }
                        if (showPruning) {
                            PruningView.print(out, trace, tokenizer);
                        }
                    }
                    continue;
                }
                switch (use.command()) {
                    case HELP -> err.print(SlashCommand.help());
                    case RESET -> {
                        chat.reset(systemPrompt);
                        err.println("winnow: conversation forgotten");
                    }
                    case STATS -> {
                        chat.printStats();
                        KvStatsTable.print(err, sequence.cache(), policy);
                    }
                    case PRUNING -> {
                        showPruning = !showPruning;
                        err.println("winnow: pruning view " + (showPruning ? "on" : "off"));
                        if (showPruning) {
                            PruningView.print(out, trace, tokenizer);
                        }
                    }
                    case SAVE -> {
                        ConversationFile.save(Path.of(use.argument()), chat.messages());
                        err.printf("winnow: %d messages saved to %s%n", chat.messages().size(), use.argument());
                    }
                    case LOAD -> {
                        try {
                            chat.load(ConversationFile.load(Path.of(use.argument())));
                            err.printf("winnow: %d messages loaded from %s%n", chat.messages().size(), use.argument());
                        } catch (UserInputException | ContextFullException | KvCacheFullException e) {
                            err.println("winnow: " + e.getMessage());
                            chat.reset(systemPrompt);
                        }
                    }
                    case EXIT, QUIT -> {
                        return 0;
                    }
                }
                err.flush();
            }
        }
        return 0;
    }

    /** The conversation: its messages, and where the sequence stands in the template's text. */
    private final class Chat {
        private final Model model;
        private final Sequence sequence;
        private final ChatTemplate template;
        private final PrintWriter out;
        private final PrintWriter err;
        private final List<ChatMessage> messages = new ArrayList<>();
        private String system;
        /** Text the template wants fed after the last reply (an end-of-turn marker), sent with the next turn. */
        private String pending = "";
        private Generator.Result last;

        Chat(Model model, Sequence sequence, ChatTemplate template, String system, PrintWriter out, PrintWriter err) {
            this.model = model;
            this.sequence = sequence;
            this.template = template;
            this.system = system;
            this.out = out;
            this.err = err;
        }

        /** The whole conversation, system prompt first, as /save writes it. */
        List<ChatMessage> messages() {
            return messages(system, messages);
        }

        void reset(String newSystem) {
            sequence.reset();
            messages.clear();
            system = newSystem;
            pending = "";
        }

        /** Replaces the conversation with {@code loaded} and reads it into the cache. */
        void load(List<ChatMessage> loaded) {
            String loadedSystem = null;
            List<ChatMessage> turns = new ArrayList<>();
            for (ChatMessage message : loaded) {
                if (message.role().equals(ChatMessage.SYSTEM)) {
                    loadedSystem = message.content();
                } else {
                    turns.add(message);
                }
            }
            reset(loadedSystem);
            if (turns.isEmpty()) {
                return;
            }
            if (!turns.getLast().role().equals(ChatMessage.ASSISTANT)) {
                throw new UserInputException("the saved conversation ends with a user message; it must end with a reply");
            }
            String text;
            try {
                text = template.render(messages(loadedSystem, turns), false);
            } catch (IllegalArgumentException e) {
                throw new UserInputException("the " + template.name() + " format cannot hold this conversation: " + e.getMessage());
            }
            Generator.generate(sequence, encode(text, true), 0, false, piece -> { });
            messages.addAll(turns);
        }

        private static List<ChatMessage> messages(String system, List<ChatMessage> turns) {
            List<ChatMessage> all = new ArrayList<>();
            if (system != null) {
                all.add(ChatMessage.system(system));
            }
            all.addAll(turns);
            return all;
        }

        /** One turn: the user's line in, the model's reply out as it is written, until its end or Ctrl-C. */
        void reply(String line, ChatInput input) {
            boolean first = messages.isEmpty();
            String text = pending + (first ? template.beginConversation(system) : "") + template.userTurn(line, first);
            StringBuilder reply = new StringBuilder();
            AtomicBoolean stop = new AtomicBoolean();
            try {
                int[] prompt = encode(text, first);
                input.replying(() -> stop.set(true), () -> last = Generator.generate(sequence, prompt, tokens, false,
                        piece -> {
                            reply.append(piece);
                            out.print(piece);
                            out.flush();
                        }, stop::get));
            } catch (ContextFullException | KvCacheFullException e) {
                out.println();
                err.println("winnow: " + e.getMessage() + " The conversation starts over.");
                reset(system);
                return;
            }
            out.println();
            out.flush();
            messages.add(ChatMessage.user(line));
            messages.add(ChatMessage.assistant(reply.toString()));
            pending = template.afterAssistantTurn();
            switch (last.stopReason()) {
                case STOPPED -> err.println("winnow: reply stopped; the conversation goes on");
                case CONTEXT_FULL -> err.println("winnow: the context is full; /reset starts a new conversation");
                default -> {
                }
            }
        }

        /** Some templates (Llama 2's) write the BOS text themselves: then it must not be added twice. */
        private int[] encode(String text, boolean start) {
            Tokenizer tokenizer = model.tokenizer();
            boolean addBos = start && model.vocabulary().addBos() && !text.startsWith(tokenizer.piece(tokenizer.bos()));
            return tokenizer.encode(text, addBos, true);
        }

        void printStats() {
            err.printf(Locale.ROOT, "winnow: context %,d / %,d tokens, KV cache %,d bytes%n", sequence.length(),
                    sequence.contextLength(), sequence.cache().bytesHeld());
            if (last != null) {
                err.println("winnow: last turn: " + GenerateCommand.summary(last));
            }
        }
    }
}
