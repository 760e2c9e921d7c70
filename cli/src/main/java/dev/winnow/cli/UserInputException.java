package dev.winnow.cli;

/** Input that the command cannot use, reported to the user as it is. */
final class UserInputException extends RuntimeException {
    UserInputException(String message) {
        super(message);
    }
}
