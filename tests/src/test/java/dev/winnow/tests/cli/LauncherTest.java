package dev.winnow.tests.cli;

import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The real launcher and the shaded jar, as a user runs them. Needs the jar, which {@code ./mvnw verify} builds
 * before this module's tests run; skipped with a reason otherwise.
 */
class LauncherTest {
    private static Path root;

    @BeforeAll
    static void findJar() {
        root = Launcher.root();
    }

    @Test
    void generatesTheReferenceStory() throws Exception {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        String expected = Files.readString(SharedFiles.requireShared("models/reference/once-upon-a-time.txt"));
        Launcher.Result r = Launcher.launch("", Map.of(), "generate", "-m", model.toString(), "-p", "Once upon a time", "-n", "196",
                "--temperature", "0");
        assertEquals(0, r.exitCode(), r.err());
        assertEquals(expected, r.out());
        assertTrue(r.err().contains("tok/s"), r.err());
        assertFalse(r.err().contains("WARNING"), r.err());
    }

    @Test
    void chatKeepsTheConversationAndAnswersCommands() throws Exception {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        Launcher.Result r = Launcher.launch("Once upon a time\n/stats\nThe end\n/reset\n/quit\n", Map.of(),
                "chat", "-m", model.toString(), "-n", "20", "--temperature", "0");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.err().contains("context"), r.err());
        assertTrue(r.err().contains("conversation forgotten"), r.err());
        assertTrue(r.out().startsWith("> "), r.out());
        assertTrue(r.out().length() > 40, "the model should answer: " + r.out());
    }

    @Test
    void refusesAnOldJava() throws Exception {
        Path oldJava = Path.of("/usr/lib/jvm/java-17-openjdk-amd64");
        assumeTrue(Files.isDirectory(oldJava), "no JDK 17 on this machine to test the refusal with");
        Launcher.Result r = Launcher.launch("", Map.of("JAVA_HOME", oldJava.toString(), "PATH", oldJava.resolve("bin") + ":/usr/bin:/bin"),
                "--version");
        assertEquals(1, r.exitCode(), r.err());
        assertTrue(r.err().contains("Java 25"), r.err());
        assertTrue(r.err().contains("is Java 17"), "names the version it found: " + r.err());
    }

    @Test
    void theBuildRefusesAnOldJavaInOneLine() throws Exception {
        Path oldJava = Path.of("/usr/lib/jvm/java-17-openjdk-amd64");
        assumeTrue(Files.isDirectory(oldJava), "no JDK 17 on this machine to test the refusal with");
        ProcessBuilder builder = new ProcessBuilder(root.resolve("mvnw").toString(), "-B", "-q", "-N", "validate")
                .directory(root.toFile()).redirectErrorStream(true);
        builder.environment().put("JAVA_HOME", oldJava.toString());
        Process process = builder.start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(120, TimeUnit.SECONDS), "mvnw did not finish in 120 s");
        assertTrue(process.exitValue() != 0, out);
        assertFalse(out.contains("Unrecognized option"), "the wrapper's JVM options must not break first: " + out);
        assertTrue(out.lines().anyMatch(line -> line.contains("Winnow builds with JDK 25") && line.contains("Java 17")), out);
    }

    /** Ctrl-C in a terminal reaches the whole process group: the launcher must let Java report what it did. */
    @Test
    void ctrlCInATerminalLetsTrainingSayWhereItStopped() throws Exception {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        Path data = SharedFiles.requireShared("data/tinystories-dev.txt");
        Launcher.requireTmux();
        Path dir = Files.createTempDirectory("winnow-ctrl-c");
        String session = "winnow-test-" + ProcessHandle.current().pid();
        // bash (waits for the job and goes on when it exits on its own) runs the script whatever tmux's shell is.
        Path script = Files.writeString(dir.resolve("run.sh"), "export JAVA_HOME=" + System.getProperty("java.home")
                + "\n" + root.resolve("bin/winnow") + " train-pruning -m " + model + " -o " + dir.resolve("out.gguf")
                + " --data " + data + " --gamma 0.1 --steps 100000 --batch 1 --seq-len 32 --checkpoint-every 0"
                + " --eval-every 0 -t 1 2>" + dir.resolve("err.txt") + "\necho $? >" + dir.resolve("exit.txt")
                + "\nsleep 60\n");
        Launcher.tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "50", "bash " + script);
        try {
            Path err = dir.resolve("err.txt");
            Launcher.awaitTrue(() -> Files.exists(err) && Files.readString(err).contains(" steps | "), "training never started", err);
            Launcher.tmux("send-keys", "-t", session, "C-c");
            Path exit = dir.resolve("exit.txt");
            Launcher.awaitTrue(() -> Files.exists(exit) && !Files.readString(exit).isBlank(), "winnow did not stop on Ctrl-C", err);
            assertTrue(Files.readString(err).contains("interrupted after step"), Files.readString(err));
            assertEquals("130", Files.readString(exit).strip(), Files.readString(err));
        } finally {
            Launcher.tmux("kill-session", "-t", session);
        }
    }

    /** Ctrl-C while chat writes a reply stops the reply, not the chat: the conversation is still there to save. */
    @Test
    void ctrlCInAChatStopsTheReplyAndKeepsTheConversation() throws Exception {
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        Launcher.requireTmux();
        Path dir = Files.createTempDirectory("winnow-chat-ctrl-c");
        Path saved = dir.resolve("talk.json");
        String session = "winnow-chat-" + ProcessHandle.current().pid();
        Path script = Files.writeString(dir.resolve("run.sh"), "export JAVA_HOME=" + System.getProperty("java.home")
                + "\n" + root.resolve("bin/winnow") + " chat -m " + model + " -n -1 --temperature 0 -t 1 2>"
                + dir.resolve("err.txt") + "\necho $? >" + dir.resolve("exit.txt") + "\nsleep 60\n");
        Launcher.tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "50", "bash " + script);
        try {
            Path err = dir.resolve("err.txt");
            Launcher.awaitTrue(() -> Files.exists(err) && Files.readString(err).contains("/help lists the commands"),
                    "chat never started", err);
            // Keys typed before the line editor reads are the terminal's: its line discipline would eat the Ctrl-C.
            Launcher.awaitTrue(() -> Launcher.screen(session).lines().anyMatch(line -> line.strip().equals(">")),
                    "the chat's prompt never showed", err);
            Launcher.tmux("send-keys", "-t", session, "Once upon a time", "Enter");
            // Ctrl-C while the reply is being written: once its text shows (before, the reply may not have begun).
            Launcher.awaitTrue(() -> Launcher.screen(session).matches("(?s).*> Once upon a time\n\\s*\\S.*"),
                    "the reply never began", err);
            Launcher.tmux("send-keys", "-t", session, "C-c");
            // Whether the reply was still being written or had ended, Ctrl-C must leave the chat running.
            Launcher.tmux("send-keys", "-t", session, "/save " + saved, "Enter");
            Launcher.awaitTrue(() -> Files.exists(saved), "the chat did not answer /save after Ctrl-C", err);
            Launcher.tmux("send-keys", "-t", session, "/exit", "Enter");
            Path exit = dir.resolve("exit.txt");
            Launcher.awaitTrue(() -> Files.exists(exit) && !Files.readString(exit).isBlank(), "chat did not leave on /exit", err);
            assertEquals("0", Files.readString(exit).strip(), Files.readString(err));
            assertTrue(Files.readString(saved).contains("\"content\" : \"Once upon a time\""), Files.readString(saved));
            assertTrue(Files.readString(err).contains("winnow: reply stopped; the conversation goes on"), Files.readString(err));
        } finally {
            Launcher.tmux("kill-session", "-t", session);
        }
    }

    @Test
    void printsItsVersion() throws Exception {
        Launcher.Result r = Launcher.launch("", Map.of(), "--version");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().startsWith("winnow"), r.out());
        assertTrue(r.out().contains(", commit "), "the build's commit: " + r.out());
        assertTrue(r.out().contains("JDK " + Runtime.version().feature()), r.out());
        assertTrue(r.out().matches("(?s).*Vector API: \\d+-bit vectors.*"), r.out());
        assertTrue(r.out().contains("threads: " + Runtime.getRuntime().availableProcessors() + " cores"), r.out());
    }

    /** An ahead-of-time cache recorded for the jar is used on the next start; one the JVM cannot use is ignored quietly. */
    @Test
    void usesARecordedAheadOfTimeCacheAndIgnoresABrokenOne(@TempDir Path dir) throws Exception {
        Path cache = dir.resolve("winnow.aot");
        Launcher.Result record = Launcher.launch("", Map.of("JAVA_OPTS", "-XX:AOTCacheOutput=" + cache
                + " -Xlog:aot=off -Xlog:cds=off"), "--version");
        assertEquals(0, record.exitCode(), record.err());
        assertTrue(Files.size(cache) > 0, "a cache was recorded");

        Launcher.Result used = Launcher.launch("", Map.of("WINNOW_AOT_CACHE", cache.toString(), "JAVA_OPTS", "-Xlog:aot=info"),
                "--version");
        assertEquals(0, used.exitCode(), used.err());
        assertTrue(used.out().contains("Opened AOT cache " + cache), used.out());

        Path broken = Files.writeString(dir.resolve("broken.aot"), "not a cache");
        Launcher.Result ignored = Launcher.launch("", Map.of("WINNOW_AOT_CACHE", broken.toString()), "--version");
        assertEquals(0, ignored.exitCode(), ignored.err());
        assertTrue(ignored.out().startsWith("winnow"), ignored.out());
        assertEquals("", ignored.err(), "nothing said about the broken cache");
    }
}
