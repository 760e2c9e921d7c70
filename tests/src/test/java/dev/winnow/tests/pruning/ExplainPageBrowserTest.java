package dev.winnow.tests.pruning;

import dev.winnow.tests.SharedFiles;
import dev.winnow.tests.cli.CliRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The --explain page opens in a real browser (headless Chromium, Debian's package): its script runs, every token
 * becomes a shaded span and every layer gets its token-by-step picture, and the page says what it shows (model and
 * module, where the prompt ends, the axes, each layer's sparsity, special tokens by name). Skipped, saying why,
 * without Chromium.
 */
class ExplainPageBrowserTest {

    @Test
    void pageRendersTheTokensInHeadlessChromium(@TempDir Path dir) throws Exception {
        Path chromium = Path.of("/usr/bin/chromium");
        if (!Files.isExecutable(chromium)) {
            System.err.println("SKIPPED ExplainPageBrowserTest: no /usr/bin/chromium (apt-get install chromium)");
        }
        assumeTrue(Files.isExecutable(chromium), "no /usr/bin/chromium to render the page (apt-get install chromium)");
        Path model = SharedFiles.requireShared("models/stories260K.gguf");
        Path page = dir.resolve("explain.html");
        CliRunner.Run run = CliRunner.run("generate", "-m", model.toString(), "-p", "Once upon a time", "-n", "40",
                "--temperature", "0", "--prune", "window:2:10", "--explain", page.toString());
        assertEquals(0, run.exitCode(), run.err());

        String dom = chromium(chromium, dir, "--dump-dom", page.toUri().toString());
        assertTrue(dom.contains("data-rendered=\"true\""), "the page's script ran: " + dom.substring(0, Math.min(400, dom.length())));
        assertEquals(45, count(dom, "<span class=\"tok"), "one span per token (5 prompt + 40 generated)");
        assertEquals(5, count(dom, "<canvas"), "one picture per layer");
        assertTrue(dom.contains("policy window:2:10, 45 tokens, 5 layers; tokens kept per layer: 12, 12, 12, 12, 12"), dom);
        assertTrue(dom.contains(">Once</span>") || dom.contains(">Once <"), "the text is shown");
        assertTrue(!Files.readString(page).contains("\"<s>\""), "no '<' of the data appears raw inside the page's script");
        assertTrue(dom.contains("What each layer of stories260K.gguf kept"), "the model in the title");
        assertTrue(dom.contains("model stories260K.gguf, pruning module none, policy window:2:10"), "model and module");
        assertTrue(dom.contains("the prompt is the first 5 tokens"), "where the prompt ends, in the summary");
        String text = dom.substring(dom.indexOf("id=\"text\""));
        int marker = text.indexOf("class=\"prompt-end\"");
        assertTrue(marker > 0, "the prompt's end is marked in the text");
        assertEquals(5, count(text.substring(0, marker), "<span class=\"tok"), "after the prompt's 5 tokens");
        assertTrue(dom.contains("<span class=\"tok special\" data-position=\"0\""), "BOS shown as a special token");
        assertTrue(dom.contains("&lt;s&gt;</span>"), "by its name, escaped");
        assertEquals(5, count(dom, "x: token position 0–44 → y: step 0–44 ↓"), "axes labelled on each layer");
        assertTrue(dom.matches("(?s).*layer 4: 12 of 45 kept, sparsity \\d+\\.\\d%.*"), "each layer's sparsity");

        Path screenshot = dir.resolve("explain.png");
        chromium(chromium, dir, "--screenshot=" + screenshot, "--window-size=1200,900", page.toUri().toString());
        assertTrue(Files.size(screenshot) > 10_000, "a screenshot with content");
    }

    private static String chromium(Path chromium, Path dir, String... args) throws IOException, InterruptedException {
        List<String> command = new java.util.ArrayList<>(List.of(chromium.toString(), "--headless", "--no-sandbox",
                "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--user-data-dir=" + dir.resolve("profile")));
        command.addAll(List.of(args));
        Path out = dir.resolve("chromium.out");
        Process process = new ProcessBuilder(command).redirectOutput(out.toFile())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(process.waitFor(90, TimeUnit.SECONDS), "chromium did not finish in 90 s");
        return Files.readString(out, StandardCharsets.UTF_8);
    }

    private static int count(String text, String needle) {
        Matcher m = Pattern.compile(Pattern.quote(needle)).matcher(text);
        int n = 0;
        while (m.find()) {
            n++;
        }
        return n;
    }
}
