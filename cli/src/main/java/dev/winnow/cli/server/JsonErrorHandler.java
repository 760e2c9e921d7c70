package dev.winnow.cli.server;

import dev.winnow.engine.serve.ServerMetrics;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

import java.nio.ByteBuffer;
import java.util.function.Consumer;

/**
 * Jetty's answers to requests it refuses before any handler sees them (a malformed request line or header, a
 * bad Content-Length, an ambiguous path, a head too large), in OpenAI's error format instead of Jetty's HTML page.
 */
final class JsonErrorHandler extends ErrorHandler {
    /** Set on requests that {@link OpenAiServer} counted itself, so that an error answer is not counted twice. */
    static final String COUNTED = "dev.winnow.counted";
    private static final int MAX_REASON_CHARS = 200;

    private final ServerMetrics metrics;
    private final Consumer<String> log;

    JsonErrorHandler(ServerMetrics metrics, Consumer<String> log) {
        this.metrics = metrics;
        this.log = log;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        int status = request.getAttribute(ERROR_STATUS) instanceof Integer code ? code : response.getStatus();
        String reason = request.getAttribute(ERROR_MESSAGE) instanceof String message ? message : null;
        if (request.getAttribute(COUNTED) == null) {
            metrics.countRequest("other", status);
            log.accept(RequestLog.line(request.getMethod(), request.getHttpURI().getPath(), status, -1, -1,
                    request.getBeginNanoTime()));
        }
        byte[] body = Replies.write(Replies.errorBody(toApi(status, reason)));
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, Replies.JSON_TYPE);
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
        response.write(true, ByteBuffer.wrap(request.getMethod().equals("HEAD") ? new byte[0] : body), callback);
        return true;
    }

    @Override
    public ByteBuffer badMessageError(int status, String reason, HttpFields.Mutable fields) {
        metrics.countRequest("other", status);
        fields.put(HttpHeader.CONTENT_TYPE, Replies.JSON_TYPE);
        fields.put(HttpHeader.CONNECTION, "close"); // nothing after a broken head can be trusted as a request
        return ByteBuffer.wrap(Replies.write(Replies.errorBody(toApi(status, reason))));
    }

    static ApiException toApi(int status, String reason) {
        String code = switch (status) {
            case 400 -> "bad_request";
            case 408 -> "request_timeout";
            case 413 -> "request_too_large";
            case 414 -> "uri_too_long";
            case 431 -> "headers_too_large";
            case 505 -> "http_version_not_supported";
            default -> "http_" + status;
        };
        String what = status == 400 ? "the HTTP request is malformed" : "HTTP " + status;
        return new ApiException(status, status >= 500 ? "server_error" : "invalid_request_error", null, code,
                reason == null || reason.isBlank() ? what : what + ": " + RequestLog.printable(reason, MAX_REASON_CHARS), 0);
    }
}
