package dev.winnow.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Downloads files from the Hugging Face hub's URL layout ({@code {endpoint}/{repo}/resolve/main/{file}}) into a
 * cache folder ({@code {cache}/{repo}/{file}}), resuming a partial download ({@code .part} file, HTTP Range
 * requests) and checking the size and SHA-256 the hub announces: for files in large-file storage the first
 * response (a redirect) carries {@code X-Linked-Size} and {@code X-Linked-Etag} (the SHA-256); otherwise
 * {@code Content-Length} and an {@code ETag} that is a SHA-256 when it has 64 hex digits. A file already in the
 * cache is used without contacting the hub.
 */
final class HubDownloader {
    static final String DEFAULT_ENDPOINT = "https://huggingface.co";
    static final String ENDPOINT_VARIABLE = "WINNOW_HF_ENDPOINT";
    static final String CACHE_VARIABLE = "WINNOW_CACHE";
    private static final Pattern REPO = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*");
    private static final Pattern FILE_SEGMENT = Pattern.compile("[A-Za-z0-9._+-]+");
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    /** {@code bytes FIRST-LAST/TOTAL}; {@code *} for the range of a 416 answer or a total the server does not know. */
    private static final Pattern CONTENT_RANGE =
            Pattern.compile("\\s*bytes\\s+(?:(\\d{1,18})\\s*-\\s*\\d+|\\*)\\s*/\\s*(\\d{1,18}|\\*)\\s*");

    private final URI endpoint;
    private final Path cacheDir;
    private final PrintWriter progress;
    private final HttpClient client;

    HubDownloader(URI endpoint, Path cacheDir, PrintWriter progress) {
        this.endpoint = endpoint;
        this.cacheDir = cacheDir;
        this.progress = progress;
        this.client = HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NORMAL)
                .connectTimeout(Duration.ofSeconds(20))
                .build();
    }

    /**
     * A downloader configured by the options when given, else by {@code WINNOW_HF_ENDPOINT} and {@code WINNOW_CACHE}
     * in {@code environment}, else the public hub and {@code ~/.cache/winnow}.
     */
    static HubDownloader configured(String endpointOption, Path cacheOption, Map<String, String> environment,
                                    PrintWriter progress) {
        String endpoint = Optional.ofNullable(endpointOption).or(() -> Optional.ofNullable(environment.get(ENDPOINT_VARIABLE)))
                .filter(value -> !value.isBlank()).orElse(DEFAULT_ENDPOINT);
        URI uri;
        try {
            uri = URI.create(endpoint.endsWith("/") ? endpoint.substring(0, endpoint.length() - 1) : endpoint);
        } catch (IllegalArgumentException e) {
            throw new UserInputException("the hub endpoint '" + endpoint + "' is not a URL");
        }
        if (uri.getScheme() == null || !uri.getScheme().matches("https?") || uri.getHost() == null) {
            throw new UserInputException("the hub endpoint '" + endpoint + "' is not an http(s) URL");
        }
        Path cache = cacheOption != null ? cacheOption
                : Optional.ofNullable(environment.get(CACHE_VARIABLE)).filter(value -> !value.isBlank()).map(Path::of)
                        .orElseGet(() -> Path.of(System.getProperty("user.home"), ".cache", "winnow"));
        return new HubDownloader(uri, cache, progress);
    }

    /** Where the file lives in the cache once downloaded. */
    Path cachedPath(String repo, String file) {
        checkNames(repo, file);
        return cacheDir.resolve(repo).resolve(file);
    }

    /**
     * The cached file for {@code REPO:FILE}, downloading it first if needed.
     *
     * @throws UserInputException for a malformed reference or a failed download, with the reason in one line
     */
    Path fetch(String repoColonFile) throws IOException {
        int colon = repoColonFile.indexOf(':');
        if (colon < 0) {
            throw new UserInputException("'" + repoColonFile + "' is not REPO:FILE (e.g. owner/model-GGUF:model-q4_k_m.gguf)");
        }
        return fetch(repoColonFile.substring(0, colon), repoColonFile.substring(colon + 1));
    }

    /** The cached file, downloading it first if it is not in the cache. */
    Path fetch(String repo, String file) throws IOException {
        Path target = cachedPath(repo, file);
        if (Files.isRegularFile(target)) {
            return target;
        }
        Files.createDirectories(target.getParent());
        Path part = target.resolveSibling(target.getFileName() + ".part");
        download(url(repo, file), repo + "/" + file, part);
        Files.move(part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return target;
    }

    private static void checkNames(String repo, String file) {
        if (!REPO.matcher(repo).matches()) {
            throw new UserInputException("'" + repo + "' is not a hub repository name (owner/name)");
        }
        for (String segment : file.split("/", -1)) {
            if (!FILE_SEGMENT.matcher(segment).matches() || segment.equals(".") || segment.equals("..")) {
                throw new UserInputException("'" + file + "' is not a file name in a hub repository");
            }
        }
    }

    private URI url(String repo, String file) {
        StringBuilder path = new StringBuilder(endpoint.toString()).append('/').append(repo).append("/resolve/main");
        for (String segment : file.split("/")) {
            path.append('/').append(URLEncoder.encode(segment, StandardCharsets.UTF_8));
        }
        return URI.create(path.toString());
    }

    /** What the hub says the file should be. */
    private record Expected(long size, String sha256OrNull) {
    }

    private void download(URI url, String name, Path part) throws IOException {
        long have = Files.isRegularFile(part) ? Files.size(part) : 0;
        HttpRequest.Builder request = HttpRequest.newBuilder(url).timeout(Duration.ofMinutes(5)).GET();
        if (have > 0) {
            request.header("Range", "bytes=" + have + "-");
        }
        HttpResponse<InputStream> response = send(request.build(), url);
        try (InputStream body = response.body()) {
            int status = response.statusCode();
            Expected expected = expected(response, status);
            if (status == 416 && have > 0) {
                // The partial file already has every byte (or more than there is): check it as it is.
                verify(part, name, expected.size() >= 0 ? expected : new Expected(have, expected.sha256OrNull()));
                return;
            }
            if (status != 200 && status != 206) {
                throw new UserInputException(failure(status, name, url));
            }
            boolean append = status == 206;
            if (append && contentRange(response, 1) != have) {
                throw new UserInputException("the hub answered a resume of " + name + " from byte " + have
                        + " with another range (" + response.headers().firstValue("Content-Range").orElse("none")
                        + "); delete " + part + " and try again");
            }
            long start = append ? have : 0;
            copy(body, part, append, start, expected.size(), name);
            verify(part, name, expected);
        }
    }

    private HttpResponse<InputStream> send(HttpRequest request, URI url) throws IOException {
        try {
            return client.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (ConnectException | HttpConnectTimeoutException | UnresolvedAddressException e) {
            throw new UserInputException("cannot reach the hub at " + endpoint + " (offline?): " + describe(e));
        } catch (HttpTimeoutException e) {
            throw new UserInputException("the hub at " + endpoint + " did not answer in time for " + url);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while asking " + url, e);
        } catch (IOException e) {
            if (e.getCause() instanceof UnresolvedAddressException || e.getCause() instanceof ConnectException) {
                throw new UserInputException("cannot reach the hub at " + endpoint + " (offline?): " + describe(e.getCause()));
            }
            throw e;
        }
    }

    private static String describe(Throwable e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    private static String failure(int status, String name, URI url) {
        return switch (status) {
            case 404 -> name + " is not on the hub (HTTP 404 for " + url + ")";
            case 401, 403 -> name + " needs an account with access (HTTP " + status + "): a gated or private repository";
            default -> "the hub answered HTTP " + status + " for " + url;
        };
    }

    /**
     * Size and checksum from the answer and the redirects before it: X-Linked-Size / X-Linked-Etag first, then
     * the total of Content-Range or Content-Length, then a SHA-256 ETag. -1 when the size is not known.
     */
    private static Expected expected(HttpResponse<?> response, int status) {
        long size = -1;
        String sha = null;
        for (HttpResponse<?> r = response; r != null; r = r.previousResponse().orElse(null)) {
            if (size < 0) {
                size = r.headers().firstValueAsLong("X-Linked-Size").orElse(-1);
            }
            if (sha == null) {
                sha = r.headers().firstValue("X-Linked-Etag").map(HubDownloader::sha256OrNull).orElse(null);
            }
        }
        if (size < 0) {
            if (status == 206 || status == 416) {
                size = contentRange(response, 2);
            } else if (status == 200) {
                size = response.headers().firstValueAsLong("Content-Length").orElse(-1);
            }
        }
        if (sha == null) {
            sha = response.headers().firstValue("ETag").map(HubDownloader::sha256OrNull).orElse(null);
        }
        return new Expected(size, sha);
    }

    /** The hex SHA-256 in an ETag ({@code "abc..."} or {@code W/"abc..."}), or null when it is something else. */
    private static String sha256OrNull(String etag) {
        String value = etag.strip();
        if (value.startsWith("W/")) {
            value = value.substring(2);
        }
        value = value.replace("\"", "").toLowerCase(Locale.ROOT);
        return SHA256.matcher(value).matches() ? value : null;
    }

    /** Group 1, the first byte, or 2, the total, of the response's Content-Range; -1 when it does not say. */
    private static long contentRange(HttpResponse<?> response, int group) {
        Matcher range = CONTENT_RANGE.matcher(response.headers().firstValue("Content-Range").orElse(""));
        String number = range.matches() ? range.group(group) : null;
        return number == null || number.equals("*") ? -1 : Long.parseLong(number);
    }

    /** Streams the body into the part file, showing its progress; the part file keeps what arrived. */
    private void copy(InputStream body, Path part, boolean append, long start, long total, String name)
            throws IOException {
        byte[] buffer = new byte[1 << 16];
        long done = start;
        long began = System.nanoTime();
        Progress shown = Progress.resume(progress, name, Math.max(0, total), "bytes", start);
        try (OutputStream out = Files.newOutputStream(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
            int read;
            while ((read = body.read(buffer)) >= 0) {
                out.write(buffer, 0, read);
                done += read;
                shown.update(done, "");
            }
        } catch (IOException e) {
            shown.finish("winnow: " + name + ": broke off after " + Progress.size(done));
            throw new UserInputException("the download of " + name + " broke off after " + done + " bytes ("
                    + describe(e) + "); run the command again to resume it");
        }
        shown.finish("winnow: %s: %s in %s".formatted(name, Progress.size(done),
                Progress.duration((System.nanoTime() - began) / 1e9)));
    }

    /** Checks the complete part file against the announced size and SHA-256; a file with the wrong hash is removed. */
    private static void verify(Path part, String name, Expected expected) throws IOException {
        long size = Files.size(part);
        if (expected.size() >= 0 && size != expected.size()) {
            if (size > expected.size()) {
                Files.delete(part);
                throw new UserInputException("the download of " + name + " has " + size + " bytes, more than the "
                        + expected.size() + " the hub announced; the partial file was removed, run again");
            }
            throw new UserInputException("the download of " + name + " stopped at " + size + " of " + expected.size()
                    + " bytes; run the command again to resume it");
        }
        if (expected.sha256OrNull() != null) {
            String actual = sha256(part);
            if (!actual.equals(expected.sha256OrNull())) {
                Files.delete(part);
                throw new UserInputException("the download of " + name + " is corrupt: its SHA-256 is " + actual
                        + " but the hub announced " + expected.sha256OrNull() + "; the file was removed");
            }
        }
    }

    private static String sha256(Path file) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), digest)) {
            in.transferTo(OutputStream.nullOutputStream());
        }
        return HexFormat.of().formatHex(digest.digest());
    }
}
