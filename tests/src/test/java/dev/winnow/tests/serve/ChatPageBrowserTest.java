package dev.winnow.tests.serve;

import dev.winnow.cli.server.ConnectionLimits;
import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.serve.SchedulerConfig;
import dev.winnow.tests.SharedFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The chat page at {@code /}, in headless Chromium driven over the DevTools protocol: it shows the model's name,
 * a typed message gets a streamed answer with a live view of what pruning keeps, and the stop button ends the
 * answer mid-stream and the server frees the sequence. Skipped, saying why, without Chromium.
 */
class ChatPageBrowserTest {
    private static final String PAGE_SCRIPT = "document.getElementById";
    /** Tokens the page asks for: at thousands of tokens a second the answer would still run for minutes. */
    private static final int ANSWER_TOKENS = 2_000_000;
    /** Past the window's 4 + 64 tokens, and long enough that redrawing the whole answer per token would show. */
    private static final int LONG_ANSWER_TOKENS = 20_000;

    @Test
    void typeAMessageWatchTheAnswerStreamAndStopIt(@TempDir Path dir) throws Exception {
        if (!Files.isExecutable(DevToolsBrowser.CHROMIUM)) {
            System.err.println("SKIPPED ChatPageBrowserTest: no " + DevToolsBrowser.CHROMIUM + " (apt-get install chromium)");
        }
        assumeTrue(Files.isExecutable(DevToolsBrowser.CHROMIUM),
                "no " + DevToolsBrowser.CHROMIUM + " to drive the chat page (apt-get install chromium)");
        try (Model model = Model.load(SharedFiles.requireShared("models/stories260K.gguf"));
             ServerHarness harness = new ServerHarness(model, new SchedulerConfig(2, 4, ANSWER_TOKENS + 64, KvCacheConfig.defaults(),
                     PruningPolicy.parse("window:4:64"), 1), 64 * 1024, ConnectionLimits.DEFAULTS);
             DevToolsBrowser browser = new DevToolsBrowser(dir.resolve("profile"))) {
            HttpResponse<String> page = harness.get("/");
            assertEquals(200, page.statusCode());
            assertTrue(page.headers().firstValue("Content-Type").orElse("").startsWith("text/html"));
            assertFalse(page.body().matches("(?s).*<script[^>]+src=.*") || page.body().contains("<link"),
                    "no external scripts, styles or fonts");

            browser.navigate(harness.base + "/");
            browser.await("document.readyState === 'complete' && !!" + PAGE_SCRIPT + "('apiKey')", 60);
            // The server wants a key: the user enters it, and the page then shows the model's name.
            browser.evaluate("(() => { const key = " + PAGE_SCRIPT + "('apiKey'); key.focus(); return true; })()");
            browser.type(ServerHarness.KEY);
            browser.evaluate(PAGE_SCRIPT + "('apiKey').dispatchEvent(new Event('change')), true");
            browser.await(PAGE_SCRIPT + "('model').textContent === 'test-model'", 60);

            // An answer that cannot end before the page stops it, however fast the machine: past the end of text,
            // and longer than the model runs in minutes (30,000 tokens once finished before the checks below).
            browser.evaluate("(() => { " + PAGE_SCRIPT + "('maxTokens').value = '" + ANSWER_TOKENS + "'; "
                    + PAGE_SCRIPT + "('ignoreEos').checked = true; " + PAGE_SCRIPT + "('input').focus(); return true; })()");
            browser.type("Once upon a time");
            browser.press("Enter", 13);
            browser.await("document.querySelector('.msg.user') !== null && document.querySelector('.msg.user').textContent === 'Once upon a time'", 60);
            String answer = "document.querySelector('.msg.assistant')";
            browser.await(answer + ".dataset.state === 'streaming' && " + answer + ".textContent.length > 20", 60);
            // The pruning view follows this answer's sequence: every layer keeps at most the window's 4 + 64 tokens.
            browser.await(PAGE_SCRIPT + "('keptPerLayer').children.length === " + model.config().layers(), 60);
            assertEquals("window:4:64", browser.evaluate(PAGE_SCRIPT + "('policy').textContent").asText());
            // A long answer at thousands of tokens a second: the page keeps drawing it and polling the pruning view,
            // and still answers (a page that redrew the whole answer per token stopped answering within seconds).
            browser.await("Number(" + PAGE_SCRIPT + "('position').textContent) > " + LONG_ANSWER_TOKENS
                    + " && " + answer + ".textContent.length > " + LONG_ANSWER_TOKENS, 180);
            assertTrue(browser.evaluate(PAGE_SCRIPT + "('pruned').textContent").asText().endsWith("%"));
            assertTrue(browser.evaluate(PAGE_SCRIPT + "('kvBytes').textContent").asText().matches("[0-9.]+ (B|KiB|MiB)"));
            assertEquals(1.0, harness.metric("winnow_active_sequences"), "the page's answer is generating");

            browser.evaluate(PAGE_SCRIPT + "('stop').click(), true");
            browser.await(answer + ".dataset.state === 'stopped'", 60);
            assertEquals("stopped", browser.evaluate(PAGE_SCRIPT + "('status').textContent").asText());
            String stoppedText = browser.evaluate(answer + ".textContent").asText();
            assertFalse(stoppedText.isEmpty());
            // The server noticed the aborted fetch and gave the sequence and its pages back.
            harness.awaitMetric("winnow_sequences_finished_total{reason=\"cancelled\"}", n -> n == 1);
            harness.awaitMetric("winnow_active_sequences", n -> n == 0);
            harness.awaitMetric("winnow_kv_pages_in_use", n -> n == 0);
            assertEquals(stoppedText, browser.evaluate(answer + ".textContent").asText(), "nothing arrives after stop");
            assertTrue(browser.evaluate(PAGE_SCRIPT + "('send').disabled === false && "
                    + PAGE_SCRIPT + "('stop').disabled === true").asBoolean(), "the page is ready for the next message");
        }
    }
}
