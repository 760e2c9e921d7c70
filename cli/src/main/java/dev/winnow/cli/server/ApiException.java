package dev.winnow.cli.server;

/**
 * A request the server answers with an error in OpenAI's format:
 * {@code {"error": {"message", "type", "param", "code"}}}.
 */
final class ApiException extends RuntimeException {
    final int status;
    final String type;
    final String param;
    final String code;
    /** Seconds after which the client may try again (429 and 503), or 0. */
    final int retryAfter;

    ApiException(int status, String type, String param, String code, String message, int retryAfter) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
        this.retryAfter = retryAfter;
    }

    /** 400: a parameter (or the body) is wrong. */
    static ApiException invalid(String param, String message) {
        return new ApiException(400, "invalid_request_error", param, null, message, 0);
    }

    /** 400: a parameter Winnow does not implement, named rather than silently ignored. */
    static ApiException unsupported(String param, String what) {
        return new ApiException(400, "invalid_request_error", param, "unsupported_parameter",
                "'%s' is not supported by this server: %s".formatted(param, what), 0);
    }
}
