package dev.winnow.tests.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import dev.winnow.tests.cli.CliRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code winnow pull} against a stand-in hub on 127.0.0.1 ({@link LocalHub}): a full download lands in the cache
 * and is not fetched again; a broken transfer resumes from where it stopped with a Range request; a wrong
 * checksum or a short file is refused; a missing file and an unreachable hub end with one clear line.
 */
class PullCommandTest {
    private static final String REPO = "someone/tiny-GGUF";
    private static final String FILE = "tiny-q8_0.gguf";

    private static byte[] content(int size) {
        byte[] bytes = new byte[size];
        new Random(size).nextBytes(bytes);
        return bytes;
    }

    private static CliRunner.Run pull(LocalHub hub, Path cache, String file) {
        return CliRunner.run("pull", REPO, file, "--endpoint", hub.endpoint(), "--cache-dir", cache.toString());
    }

    @Test
    void downloadsIntoTheCacheOnce(@TempDir Path cache) throws IOException {
        byte[] content = content(300_000);
        try (LocalHub hub = new LocalHub(REPO, FILE, content)) {
            CliRunner.Run run = pull(hub, cache, FILE);
            assertEquals(0, run.exitCode(), run.err());
            Path cached = cache.resolve(REPO).resolve(FILE);
            assertEquals(cached.toString(), run.out().strip());
            assertArrayEquals(content, Files.readAllBytes(cached));
            assertFalse(Files.exists(cached.resolveSibling(FILE + ".part")));
            assertTrue(run.err().contains(" 100% 293.0 KiB/293.0 KiB"), "progress: " + run.err());
            assertFalse(run.err().contains("\r"), "plain lines when stderr is no terminal: " + run.err());
            assertEquals(2, hub.requests().size(), "the redirect and the download: " + hub.requests());

            CliRunner.Run again = pull(hub, cache, FILE);
            assertEquals(0, again.exitCode(), again.err());
            assertTrue(again.err().contains("already in the cache"), again.err());
            assertEquals(2, hub.requests().size(), "no request for a cached file");
        }
    }

    @Test
    void resumesABrokenDownload(@TempDir Path cache) throws IOException {
        byte[] content = content(200_000);
        Path part = cache.resolve(REPO).resolve(FILE + ".part");
        try (LocalHub hub = new LocalHub(REPO, FILE, content)) {
            hub.breakAfter = 70_000;
            CliRunner.Run broken = pull(hub, cache, FILE);
            assertEquals(1, broken.exitCode());
            assertTrue(broken.err().contains("run the command again to resume"), broken.err());
            long kept = Files.size(part);
            assertTrue(kept > 0 && kept <= 70_000, "kept " + kept + " bytes");

            hub.breakAfter = -1;
            CliRunner.Run resumed = pull(hub, cache, FILE);
            assertEquals(0, resumed.exitCode(), resumed.err());
            assertEquals("bytes=" + kept + "-", hub.requests().getLast().range());
            assertArrayEquals(content, Files.readAllBytes(cache.resolve(REPO).resolve(FILE)));
            assertFalse(Files.exists(part));
        }
    }

    @Test
    void refusesAFileWhoseChecksumDiffers(@TempDir Path cache) throws IOException {
        try (LocalHub hub = new LocalHub(REPO, FILE, content(50_000))) {
            hub.announcedSha256 = LocalHub.sha256(new byte[] {1});
            CliRunner.Run run = pull(hub, cache, FILE);
            assertEquals(1, run.exitCode());
            assertTrue(run.err().contains("is corrupt: its SHA-256 is"), run.err());
            assertFalse(Files.exists(cache.resolve(REPO).resolve(FILE)));
            assertFalse(Files.exists(cache.resolve(REPO).resolve(FILE + ".part")));
        }
    }

    @Test
    void refusesAFileShorterThanAnnounced(@TempDir Path cache) throws IOException {
        try (LocalHub hub = new LocalHub(REPO, FILE, content(50_000))) {
            hub.shortBody = 20_000;
            CliRunner.Run run = pull(hub, cache, FILE);
            assertEquals(1, run.exitCode());
            assertTrue(run.err().contains("stopped at 20000 of 50000 bytes"), run.err());
            assertFalse(Files.exists(cache.resolve(REPO).resolve(FILE)));
        }
    }

    @Test
    void missingFileIsOneClearLine(@TempDir Path cache) throws IOException {
        try (LocalHub hub = new LocalHub(REPO, FILE, content(10))) {
            CliRunner.Run run = pull(hub, cache, "other.gguf");
            assertEquals(1, run.exitCode());
            assertEquals(1, run.err().strip().lines().count(), run.err());
            assertTrue(run.err().contains(REPO + "/other.gguf is not on the hub (HTTP 404"), run.err());
        }
    }

    @Test
    void unreachableHubIsOneClearLine(@TempDir Path cache) throws IOException {
        int port;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = socket.getLocalPort();
        }
        CliRunner.Run run = CliRunner.run("pull", REPO, FILE, "--endpoint", "http://127.0.0.1:" + port,
                "--cache-dir", cache.toString());
        assertEquals(1, run.exitCode());
        assertEquals(1, run.err().strip().lines().count(), run.err());
        assertTrue(run.err().contains("cannot reach the hub at http://127.0.0.1:" + port + " (offline?)"), run.err());
    }

    @Test
    void badNamesAreRefusedBeforeAnyRequest(@TempDir Path cache) throws IOException {
        try (LocalHub hub = new LocalHub(REPO, FILE, content(10))) {
            CliRunner.Run traversal = pull(hub, cache, "../escape.gguf");
            assertEquals(1, traversal.exitCode());
            assertTrue(traversal.err().contains("is not a file name in a hub repository"), traversal.err());
            CliRunner.Run badRepo = CliRunner.run("pull", "no-slash", FILE, "--endpoint", hub.endpoint(),
                    "--cache-dir", cache.toString());
            assertTrue(badRepo.err().contains("is not a hub repository name"), badRepo.err());
            assertTrue(hub.requests().isEmpty());
        }
    }
}
