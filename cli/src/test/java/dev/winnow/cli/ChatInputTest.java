package dev.winnow.cli;

import dev.winnow.engine.chat.ChatMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The chat's line editor driven as a terminal drives it: keystrokes in, screen out. */
@Timeout(120)
class ChatInputTest {
    private static final String UP = "\033OA";
    private static final String CTRL_C = "\003";
    private static final String CTRL_D = "\004";

    private final PipedOutputStream keys = new PipedOutputStream();
    private final ByteArrayOutputStream screen = new ByteArrayOutputStream();

    private ChatInput editor() throws IOException {
        return ChatInput.editor(new PipedInputStream(keys, 1 << 16), screen, SlashCommand.words());
    }

    private void type(String text) throws IOException {
        keys.write(text.getBytes(StandardCharsets.UTF_8));
        keys.flush();
    }

    @Test
    void theUpArrowRecallsTheLastLineAndCtrlDEnds() throws IOException {
        try (ChatInput input = editor()) {
            type("Once upon a time\r" + UP + "\r" + CTRL_D);
            assertEquals("Once upon a time", input.readLine("> "));
            assertEquals("Once upon a time", input.readLine("> "));
            assertNull(input.readLine("> "));
        }
        assertTrue(!screen.toString(StandardCharsets.UTF_8).contains("^[[A"), screen.toString(StandardCharsets.UTF_8));
    }

    @Test
    void ctrlCAtThePromptDropsWhatWasTypedAndTheChatGoesOn() throws Exception {
        try (ChatInput input = editor()) {
            CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> {
                try {
                    return input.readLine("> ");
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            // Ctrl-C is a signal: it must arrive while the editor is reading, as a person's keystroke does.
            awaitPrompts(1);
            type("half a thought");
            awaitScreen("half a thought");
            type(CTRL_C);
            awaitPrompts(2); // the editor threw the line away and asks again
            type("/help\r");
            assertEquals("/help", line.get(60, TimeUnit.SECONDS));
        }
    }

    private void awaitPrompts(int count) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (screen.toString(StandardCharsets.UTF_8).split("> ", -1).length - 1 < count) {
            assertTrue(System.nanoTime() < deadline, "the editor never asked again: " + screen);
            Thread.sleep(10);
        }
    }

    private void awaitScreen(String text) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!screen.toString(StandardCharsets.UTF_8).contains(text)) {
            assertTrue(System.nanoTime() < deadline, "the editor never showed " + text);
            Thread.sleep(10);
        }
    }

    @Test
    void tabCompletesASlashCommand() throws IOException {
        try (ChatInput input = editor()) {
            type("/pru\t\r");
            assertEquals("/pruning", input.readLine("> ").strip());
        }
    }

    @Test
    void ctrlCWhileReplyingStopsTheReplyNotTheChat() throws Exception {
        try (ChatInput input = editor()) {
            CountDownLatch interrupted = new CountDownLatch(1);
            input.replying(interrupted::countDown, () -> {
                try {
                    type(CTRL_C);
                    assertTrue(interrupted.await(30, TimeUnit.SECONDS), "Ctrl-C did not reach the reply");
                } catch (IOException | InterruptedException e) {
                    throw new AssertionError(e);
                }
            });
            type("and then?\r");
            assertEquals("and then?", input.readLine("> "));
        }
    }

    @Test
    void slashCommandsAreReadHereAndUnknownOnesRefused() {
        assertNull(SlashCommand.parse("tell me a story"));
        assertEquals(new SlashCommand.Use(SlashCommand.SAVE, "talk.json"), SlashCommand.parse(" /save talk.json "));
        assertEquals(SlashCommand.HELP, SlashCommand.parse("/help").command());
        assertEquals("unknown command /foo; /help lists the commands",
                assertThrows(IllegalArgumentException.class, () -> SlashCommand.parse("/foo")).getMessage());
        assertEquals("/load needs a FILE: /load FILE",
                assertThrows(IllegalArgumentException.class, () -> SlashCommand.parse("/load")).getMessage());
        assertEquals("/stats takes no argument",
                assertThrows(IllegalArgumentException.class, () -> SlashCommand.parse("/stats now")).getMessage());
        assertTrue(SlashCommand.help().contains("/save FILE"), SlashCommand.help());
        assertTrue(SlashCommand.help().contains("/pruning"), SlashCommand.help());
    }

    @Test
    void aSavedConversationLoadsBackAndABrokenOneIsNamed(@TempDir Path dir) throws IOException {
        List<ChatMessage> talk = List.of(ChatMessage.system("Be brief."), ChatMessage.user("Hi \"there\"\n"),
                ChatMessage.assistant("Hello."));
        Path file = dir.resolve("talk.json");
        ConversationFile.save(file, talk);
        assertEquals(talk, ConversationFile.load(file));

        Files.writeString(file, "{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}");
        UserInputException e = assertThrows(UserInputException.class, () -> ConversationFile.load(file));
        assertEquals(file + ": message 0 needs a role of system, user or assistant", e.getMessage());
        Files.writeString(file, "{not json");
        assertTrue(assertThrows(UserInputException.class, () -> ConversationFile.load(file)).getMessage()
                .startsWith(file + " is not JSON"));
    }
}
