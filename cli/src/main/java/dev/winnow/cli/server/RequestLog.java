package dev.winnow.cli.server;

/**
 * The server's request log: one line per answered request, e.g.
 * {@code winnow serve: POST /v1/completions 200 tokens 5/20 131 ms} (tokens read/produced, "-" where a request has
 * none or they are unknown because the client left).
 */
final class RequestLog {
    private static final int MAX_PATH_CHARS = 200;

    private RequestLog() {
    }

    static String line(String method, String path, int status, int tokensIn, int tokensOut, long startNanos) {
        long millis = (System.nanoTime() - startNanos) / 1_000_000;
        return "winnow serve: %s %s %d tokens %s/%s %d ms".formatted(printable(method, MAX_PATH_CHARS),
                printable(path, MAX_PATH_CHARS), status, count(tokensIn), count(tokensOut), millis);
    }

    /**
     * Text a client sent, as printable ASCII of bounded length: it may hold line breaks or terminal escapes
     * that would forge log lines.
     */
    static String printable(String text, int maxChars) {
        StringBuilder kept = new StringBuilder();
        for (int i = 0; i < text.length() && kept.length() < maxChars; i++) {
            char c = text.charAt(i);
            kept.append(c >= 0x20 && c < 0x7f ? c : '?');
        }
        return text.length() > maxChars ? kept + "..." : kept.toString();
    }

    private static String count(int tokens) {
        return tokens < 0 ? "-" : Integer.toString(tokens);
    }
}
