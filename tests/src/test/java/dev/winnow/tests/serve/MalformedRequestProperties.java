package dev.winnow.tests.serve;

import com.fasterxml.jackson.databind.JsonNode;
import dev.winnow.cli.server.ConnectionLimits;
import dev.winnow.engine.kv.KvCacheConfig;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.pruning.PruningPolicy;
import dev.winnow.engine.serve.SchedulerConfig;
import dev.winnow.tests.SharedFiles;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AddLifecycleHook;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Whatever request head a client sends (methods, paths, versions and headers bent out of shape, bytes that are
 * not text), the server answers it, in JSON, with an OpenAI-format error whenever it refuses: never an HTML page
 * (but the chat page itself, for a GET of "/"), never a silent close.
 */
@AddLifecycleHook(SharedFiles.SkipWithoutShared.class)
class MalformedRequestProperties {
    private static Model model;
    private static ServerHarness harness;

    @BeforeContainer
    static void start() throws IOException {
        model = ServerHarness.storiesOrNull();
        if (model == null) {
            return;
        }
        // A body that is announced and never sent waits for the body timeout: keep it short.
        harness = new ServerHarness(model, new SchedulerConfig(1, 4, 256, KvCacheConfig.defaults(),
                new PruningPolicy.None(), 1), 4096, new ConnectionLimits(Duration.ofSeconds(2), Duration.ofSeconds(2), 64));
    }

    @AfterContainer
    static void stop() {
        ServerHarness.close(harness, model);
    }

    @Property(tries = 150)
    void everyHeadIsAnsweredInJson(@ForAll("heads") String head) throws IOException {
        try (Socket socket = RawHttp.connect(harness.server.port())) {
            RawHttp.send(socket, head);
            boolean headMethod = head.startsWith("HEAD ");
            RawHttp.Reply reply = RawHttp.read(socket.getInputStream(), headMethod);
            assertNotNull(reply, "no answer");
            if (reply.status() == 200 && reply.headers().getOrDefault("content-type", "").startsWith("text/html")) {
                // The one page: the chat page at "/", asked for with GET or HEAD.
                assertTrue(head.startsWith("GET ") || headMethod, head);
                assertTrue(headMethod || reply.body().startsWith("<!DOCTYPE html>"), reply.toString());
                return;
            }
            assertTrue(reply.headers().getOrDefault("content-type", "").startsWith("application/json"), reply.toString());
            if (headMethod) {
                // A head too broken to be trusted as HEAD may be answered with a body; the connection then closes.
                // Noise holding a blank line splits the text into pipelined requests: each later one gets its answer.
                byte[] rest = socket.getInputStream().readAllBytes();
                if (new String(rest, StandardCharsets.ISO_8859_1).startsWith("HTTP/")) {
                    InputStream following = new ByteArrayInputStream(rest);
                    for (RawHttp.Reply next = RawHttp.read(following, false); next != null; next = RawHttp.read(following, false)) {
                        assertTrue(next.headers().getOrDefault("content-type", "").startsWith("application/json"), next.toString());
                    }
                } else if (rest.length > 0) {
                    new RawHttp.Reply(reply.status(), reply.headers(), new String(rest, StandardCharsets.UTF_8)).assertOpenAiError();
                }
            } else if (reply.status() >= 400) {
                reply.assertOpenAiError();
            } else if (!reply.body().isEmpty()) {
                JsonNode json = ServerHarness.JSON.readTree(reply.body());
                assertTrue(json.isObject(), reply.body());
            }
        }
    }

    /** A refused method is named in the error, and no character of it reaches the answer as markup. */
    @Example
    void aMethodMadeOfMarkupComesBackEscaped() throws IOException {
        everyHeadIsAnsweredInJson("<b> /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    }

    /** A blank line inside the noise makes two requests of one text; the second gets its own JSON answer. */
    @Example
    void aHeadFollowedByAPipelinedRequestIsAnsweredTwiceInJson() throws IOException {
        everyHeadIsAnsweredInJson("HEAD /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nX-Test: a\r\nConnection: close\r\n\r\n");
    }

    @Provide
    Arbitrary<String> heads() {
        Arbitrary<String> noise = Arbitraries.strings().withCharRange('\u0000', '\u00ff').ofMaxLength(12);
        Arbitrary<String> method = Arbitraries.oneOf(Arbitraries.of("GET", "POST", "HEAD", "PUT", "DELETE", "G ET", ""), noise);
        Arbitrary<String> target = Arbitraries.oneOf(Arbitraries.of("/health", "/v1/models", "/v1/completions",
                        "//health", "/<script>alert(1)</script>", "/%zz", "/%00", "*", "http://127.0.0.1/health",
                        "/v1/models/../../etc/passwd", "/a b", ""),
                noise.map(text -> "/" + text));
        Arbitrary<String> version = Arbitraries.oneOf(Arbitraries.of("HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1 x",
                "http/1.1", "HTTP/1.", ""), noise);
        Arbitrary<String> header = Arbitraries.oneOf(
                Arbitraries.of("Content-Length: -1", "Content-Length: abc", "Content-Length: 99999999999",
                        "Content-Length: 1,2", "Content-Length: 5", "Content-Length:  0 ", "Transfer-Encoding: chunked",
                        "Transfer-Encoding: gzip", "Expect: 100-continue", "Host:", "no colon", ": no name",
                        " folded continuation", "Authorization: Bearer wrong"),
                noise.map(text -> "X-Test: " + text), noise);
        Arbitrary<List<String>> headers = header.list().ofMaxSize(4);
        Arbitrary<Boolean> host = Arbitraries.of(true, false);
        return Combinators.combine(method, target, version, host, headers).as((m, t, v, withHost, extra) -> {
            StringBuilder text = new StringBuilder(m).append(' ').append(t).append(' ').append(v).append("\r\n");
            if (withHost) {
                text.append("Host: 127.0.0.1\r\n");
            }
            for (String line : extra) {
                text.append(line).append("\r\n");
            }
            return text.append("Connection: close\r\n\r\n").toString();
        });
    }
}
