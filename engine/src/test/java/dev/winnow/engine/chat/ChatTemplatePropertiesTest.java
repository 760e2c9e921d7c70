package dev.winnow.engine.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Feeding a conversation piece by piece gives the same text as rendering it whole. */
class ChatTemplatePropertiesTest {

    record Conversation(String systemOrNull, List<String> users, List<String> assistants) {
        /** {@code users} has one more entry than {@code assistants}: the conversation ends with a question. */
        List<ChatMessage> messages() {
            List<ChatMessage> messages = new ArrayList<>();
            if (systemOrNull != null) {
                messages.add(ChatMessage.system(systemOrNull));
            }
            for (int turn = 0; turn < users.size(); turn++) {
                messages.add(ChatMessage.user(users.get(turn)));
                if (turn < assistants.size()) {
                    messages.add(ChatMessage.assistant(assistants.get(turn)));
                }
            }
            return messages;
        }
    }

    @Provide
    Arbitrary<Conversation> conversations() {
        Arbitrary<String> text = Arbitraries.strings().withChars("ab \n\t?").ofMaxLength(12);
        return Combinators.combine(text.injectNull(0.3), text.list().ofMinSize(0).ofMaxSize(3), text)
                .as((system, exchanges, lastQuestion) -> {
                    List<String> users = new ArrayList<>(exchanges);
                    users.add(lastQuestion);
                    List<String> assistants = exchanges.stream().map(user -> "re: " + user).toList();
                    return new Conversation(system, users, assistants);
                });
    }

    @Provide
    Arbitrary<ChatTemplate> templates() {
        return Arbitraries.of("llama2", "llama3", "chatml", "mistral", "phi3", "gemma", "plain").map(name -> switch (name) {
            case "llama2" -> new Llama2Template();
            case "llama3" -> HeaderTemplate.llama3();
            case "chatml" -> HeaderTemplate.chatMl();
            case "mistral" -> new MistralTemplate();
            case "phi3" -> HeaderTemplate.phi3();
            case "gemma" -> HeaderTemplate.gemma();
            default -> new PlainTemplate();
        });
    }

    @Property(tries = 400)
    void incrementalTurnsAddUpToTheRendering(@ForAll("templates") ChatTemplate template,
                                             @ForAll("conversations") Conversation conversation) {
        StringBuilder fed = new StringBuilder(template.beginConversation(conversation.systemOrNull()));
        for (int turn = 0; turn < conversation.users().size(); turn++) {
            fed.append(template.userTurn(conversation.users().get(turn), turn == 0));
            if (turn < conversation.assistants().size()) {
                fed.append(template.assistantReply(conversation.assistants().get(turn)))
                        .append(template.afterAssistantTurn());
            }
        }
        assertEquals(template.render(conversation.messages(), true), fed.toString());
    }
}
