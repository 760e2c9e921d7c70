package dev.winnow.tests.serve;

import com.fasterxml.jackson.databind.JsonNode;
import dev.winnow.engine.model.Model;
import dev.winnow.engine.tokenizer.Tokenizer;
import dev.winnow.engine.tokenizer.TokenizerException;
import dev.winnow.tests.SharedFiles;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AddLifecycleHook;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static dev.winnow.tests.serve.OpenAiServerTest.assertError;
import static dev.winnow.tests.serve.ServerHarness.json;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code POST /tokenize} and {@code POST /detokenize} answer what the model's tokenizer gives, for any text and any
 * ids, refuse bad input in OpenAI's error format, and every request leaves one line in the server's log.
 */
@AddLifecycleHook(SharedFiles.SkipWithoutShared.class)
class TokenizationEndpointsProperties {
    private static Model model;
    private static Tokenizer tokenizer;
    private static ServerHarness harness;

    @BeforeContainer
    static void start() throws IOException {
        model = ServerHarness.storiesOrNull();
        if (model != null) {
            tokenizer = model.tokenizer();
            harness = new ServerHarness(model, 2, 4, 256, 8 * 1024);
        }
    }

    @AfterContainer
    static void stop() {
        ServerHarness.close(harness, model);
    }

    @Property(tries = 60)
    void tokenizeAnswersTheTokenizersIds(@ForAll("texts") String text, @ForAll boolean addSpecial,
                                         @ForAll boolean parseSpecial) throws Exception {
        HttpResponse<String> response = harness.post("/tokenize", json("content", text, "add_special", addSpecial,
                "parse_special", parseSpecial));
        int[] expected;
        try {
            expected = tokenizer.encode(text, addSpecial, parseSpecial);
        } catch (TokenizerException e) {
            assertError(response, 400, "content");
            return;
        }
        assertEquals(200, response.statusCode(), response.body());
        assertArrayEquals(expected, ids(ServerHarness.JSON.readTree(response.body()).get("tokens")));
    }

    @Property(tries = 60)
    void detokenizeAnswersTheTokenizersText(@ForAll("idLists") List<Integer> ids) throws Exception {
        HttpResponse<String> response = harness.post("/detokenize", json("tokens", ids));
        assertEquals(200, response.statusCode(), response.body());
        int[] array = ids.stream().mapToInt(Integer::intValue).toArray();
        assertEquals(tokenizer.decode(array), ServerHarness.JSON.readTree(response.body()).get("content").asText());
    }

    @Example
    void piecesComeWithTheirIdsAndTextRoundTrips() throws Exception {
        String text = "Once upon a time, a cat sat.";
        JsonNode tokens = ServerHarness.JSON.readTree(harness.post("/tokenize", json("content", text,
                "with_pieces", true, "add_special", true)).body()).get("tokens");
        int[] expected = tokenizer.encode(text, true, true);
        assertEquals(expected.length, tokens.size());
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], tokens.get(i).get("id").asInt());
            assertEquals(tokenizer.piece(expected[i]), tokens.get(i).get("piece").asText());
            ids.add(expected[i]);
        }
        assertEquals(tokenizer.bos(), expected[0], "add_special puts the BOS first");
        String back = ServerHarness.JSON.readTree(harness.post("/detokenize", json("tokens", ids)).body())
                .get("content").asText();
        assertEquals(text, back.strip());
    }

    @Example
    void badInputGetsOpenAiErrorsNamingTheField() throws Exception {
        int vocabulary = model.config().vocabularySize();
        assertError(harness.post("/tokenize", json("text", "hi")), 400, "text");
        assertError(harness.post("/tokenize", "{}"), 400, "content");
        assertError(harness.post("/tokenize", json("content", 5)), 400, "content");
        assertError(harness.post("/tokenize", json("content", "hi", "add_special", "yes")), 400, "add_special");
        assertError(harness.post("/detokenize", "{}"), 400, "tokens");
        assertError(harness.post("/detokenize", json("tokens", "1 2")), 400, "tokens");
        assertError(harness.post("/detokenize", json("tokens", List.of(1, vocabulary))), 400, "tokens");
        assertError(harness.post("/detokenize", json("tokens", List.of(1, -1))), 400, "tokens");
        assertError(harness.post("/detokenize", json("tokens", List.of(1.5))), 400, "tokens");
        assertError(harness.post("/detokenize", "{\"tokens\": ["), 400, null);
        HttpResponse<String> huge = harness.post("/tokenize", json("content", "x".repeat(9 * 1024)));
        assertError(huge, 400, null);
        assertTrue(huge.body().contains("request_too_large"), huge.body());
        assertError(harness.get("/tokenize"), 405, null);
        HttpResponse<String> noKey = harness.client.send(HttpRequest.newBuilder(URI.create(harness.base + "/detokenize"))
                .POST(HttpRequest.BodyPublishers.ofString(json("tokens", List.of(1)))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertError(noKey, 401, null);
    }

    @Example
    void eachRequestIsLoggedInOneLineWithItsTokens() throws Exception {
        int promptTokens = tokenizer.encode("Once upon a time", true, true).length;
        HttpResponse<String> completion = harness.post("/v1/completions", json("prompt", "Once upon a time",
                "max_tokens", 7, "ignore_eos", true, "temperature", 0));
        assertEquals(200, completion.statusCode(), completion.body());
        awaitLogLine(line -> line.matches("winnow serve: POST /v1/completions 200 tokens " + promptTokens + "/7 \\d+ ms"));
        harness.stream("/v1/chat/completions", json("messages", List.of(Map.of("role", "user", "content", "Hi")),
                "max_tokens", 3, "ignore_eos", true, "stream", true));
        awaitLogLine(line -> line.matches("winnow serve: POST /v1/chat/completions 200 tokens \\d+/3 \\d+ ms"));
        harness.post("/tokenize", json("content", "a cat"));
        int catTokens = tokenizer.encode("a cat", false, true).length;
        awaitLogLine(line -> line.matches("winnow serve: POST /tokenize 200 tokens -/" + catTokens + " \\d+ ms"));
        // A path a client made up reaches the log as printable ASCII, whatever it holds.
        assertError(harness.get("/caf%C3%A9"), 404, null);
        awaitLogLine(line -> line.matches("winnow serve: GET /caf\\? 404 tokens -/- \\d+ ms"));
        // So does one Jetty refuses before the server sees it.
        assertError(harness.get("/a%1B%5B2J"), 400, null);
        awaitLogLine(line -> line.matches("winnow serve: GET /a%1B%5B2J 400 tokens -/- \\d+ ms"));
        synchronized (harness.log) {
            for (String line : harness.log) {
                assertFalse(line.chars().anyMatch(c -> c < 0x20 && c != '\n'), line);
            }
        }
    }

    /** Waits, for up to 20 seconds, until a line of the server's log matches: the line follows the answer. */
    private static void awaitLogLine(Predicate<String> matches) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (true) {
            synchronized (harness.log) {
                if (harness.log.stream().anyMatch(matches)) {
                    return;
                }
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no such line in the server log: " + harness.log);
            }
            Thread.sleep(10);
        }
    }

    private static int[] ids(JsonNode array) {
        int[] ids = new int[array.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = array.get(i).asInt();
        }
        return ids;
    }

    @Provide
    Arbitrary<String> texts() {
        Arbitrary<String> words = Arbitraries.of("Once", " upon", " a time", "<s>", "</s>", " cat", "\n", "  ", "é", "日本",
                "\uD83D\uDE00", "<unk>", "Lily").list().ofMaxSize(8).map(parts -> String.join("", parts));
        return Arbitraries.oneOf(words, Arbitraries.strings().all().ofMaxLength(40));
    }

    @Provide
    Arbitrary<List<Integer>> idLists() {
        return Arbitraries.integers().between(0, model.config().vocabularySize() - 1).list().ofMaxSize(30);
    }
}
