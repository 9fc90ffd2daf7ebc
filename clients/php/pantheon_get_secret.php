<?php

/**
 * Lockbox drop-in: `pantheon_get_secret()` for PHP sites.
 *
 * One file, no dependencies, PHP 8.0 or newer with only what a stock `php-cli`/`php-fpm` has (no
 * curl extension; HTTPS needs the openssl extension, which distribution builds include).
 *
 *     require_once __DIR__ . '/pantheon_get_secret.php';
 *     $key = pantheon_get_secret('STRIPE_KEY'); // string, or null when the site has no such secret
 *
 * The function is defined only when no `pantheon_get_secret()` exists yet, so this file can sit
 * next to a platform's own implementation, and requiring it twice is harmless.
 *
 * Sites that read secrets through the seed product's PHP SDK load customer_secrets_compat.php (next
 * to this file; it requires this one) instead: it answers the SDK from the same configuration and cache.
 *
 * CONFIGURATION (environment variables, read with getenv(), so php-fpm `env[...]` and Apache
 * `SetEnv` work too; an empty variable counts as unset)
 *   LOCKBOX_URL            Base URL of the Lockbox server, e.g. https://lockbox.example.com. The
 *                          drop-in calls `GET <LOCKBOX_URL>/site/secrets`. http:// and https:// only.
 *   LOCKBOX_RUNTIME_TOKEN  The runtime token (`lbr_...`) of this site environment
 *                          (`lockbox token:runtime:create <site>.<env>`).
 *   LOCKBOX_CACHE_DIR      Where the cache file lives (default: sys_get_temp_dir(), i.e. $TMPDIR or
 *                          /tmp). Created with mode 0700 when missing.
 *
 * WHAT IT RETURNS
 *   The value of the secret the server resolves for the token's site environment with the `web`
 *   scope (site override > site value > org override > org value), or null when there is no such
 *   secret or it lacks the `web` scope. An empty string is a value, not an absence.
 *
 * CACHING
 *   The whole set is fetched once and kept in two places:
 *   - in the process (a static), so one request asks at most once;
 *   - in a cache file shared by the site's PHP processes, fresh for 300 seconds. After that the
 *     next call revalidates with `If-None-Match: <ETag>`: a 304 keeps the cached set (and restarts
 *     the 300 s), a 200 replaces it. A change on the server is therefore seen within 300 s.
 *   The cache file is `lockbox-<sha256(URL, token)>.json`: different servers or tokens never share a
 *   file, and the name reveals neither. It is written atomically (a 0600 temporary file created
 *   exclusively under umask 077, then renamed over the old one) and is read only when it is a regular
 *   file (not a symlink), owned by the current user, with no group or other permission bits;
 *   anything else is ignored with a warning. If the cache cannot be written, the drop-in still works
 *   (one fetch per process) and logs one warning.
 *
 * ERRORS (every failure is a RuntimeException; messages name the URL or file, never the token or a
 * value)
 *   - Neither LOCKBOX_URL + LOCKBOX_RUNTIME_TOKEN nor a local file configured, or an invalid URL.
 *   - Server unreachable (connection refused, DNS, 5 s timeout), or it answers neither 200, 304,
 *     401 nor 403 (5xx, 404, 429...), or a body that is not a secrets set:
 *       with a cached set, however old: the cached set is served, one warning goes to error_log(),
 *       and the next attempt is made after 30 seconds (so an outage does not cost every request a
 *       timeout); without one: RuntimeException.
 *   - 401/403 (token revoked, expired, or for another server): RuntimeException, and the cache file
 *     is deleted. A revoked token is never answered from a stale cache.
 *
 * LOCAL MODE (development)
 *   When LOCKBOX_SECRETS_FILE (or the seed product's CUSTOMER_SECRETS_FAKE_FILE; LOCKBOX_SECRETS_FILE
 *   wins when both are set) names a file written by `lockbox secret:site:local-generate`, the drop-in
 *   reads that file instead of calling any server (LOCKBOX_URL is then ignored). It answers what the
 *   server would answer for LOCKBOX_ENV, as the SDK does:
 *     site row:      EnvValues[LOCKBOX_ENV] ?? Value            (when Scopes has "web")
 *                    ?? OrgValues[LOCKBOX_ENV] ?? OrgValues["default"]   (when OrgScopes has "web")
 *     Owner "org":   EnvValues[LOCKBOX_ENV] ?? OrgValues[LOCKBOX_ENV] ?? Value ?? OrgValues["default"]
 *                    (when Scopes has "web")
 *   where null (a redacted value) counts as absent, a missing Owner means a site row, missing
 *   Scopes/OrgScopes mean readable, and without LOCKBOX_ENV the environment steps are skipped.
 *   The file is read once per process. A missing or malformed file is a RuntimeException.
 *
 * SECURITY NOTES
 *   - The cache file holds secret values in plain text, readable only by the user PHP runs as: the
 *     same boundary as the runtime token in the environment. Point LOCKBOX_CACHE_DIR at a private
 *     directory (ideally on tmpfs) if /tmp is shared with untrusted users of the same uid.
 *   - Use https:// outside a trusted network; certificates are verified (PHP's defaults). Redirects
 *     are not followed, so the token is only ever sent to LOCKBOX_URL.
 *   - Nothing is logged except the URL, HTTP status, the server's error code and message, and cache
 *     paths. Never values or the token.
 */

declare(strict_types=1);

namespace Lockbox\DropIn {
    if (!\class_exists(RuntimeSecrets::class, false)) {
        /**
         * The implementation behind pantheon_get_secret(). Internal: its methods may change.
         */
        final class RuntimeSecrets
        {
            /** How long a fetched set is used without asking the server again. */
            public const TTL_SECONDS = 300;
            /** After a failed refresh with a cached set, how long to wait before trying again. */
            private const RETRY_SECONDS = 30;
            /** Connect and read timeout of one request. */
            private const TIMEOUT_SECONDS = 5.0;
            /** 2: the whole wire set (SPEC §3), which customer_secrets_compat.php hands out; 1 kept values only. */
            private const CACHE_FORMAT = 2;

            /** @var array<string, array{set: array<string, mixed>, etag: ?string, checkedAt: int, freshUntil: int}> */
            private static array $memo = [];
            /** @var array<string, array<string, mixed>> local files by path: their decoded JSON */
            private static array $localFiles = [];
            /** @var array<string, array<string, mixed>> resolved local sets by path and LOCKBOX_ENV */
            private static array $localSets = [];
            /** @var array<string, true> warnings already logged by this process */
            private static array $warned = [];

            /** @see pantheon_get_secret() */
            public static function get(string $name): ?string
            {
                $secret = self::runtimeSet()['Secrets'][$name] ?? null;
                return \is_array($secret) ? $secret['Value'] : null;
            }

            /**
             * The whole set in the wire shape of `GET /site/secrets` (SPEC §3): `SiteID`, `Environment`,
             * `Secrets` ({name: {Type, Value, Scopes}}), `Count`, `Version`, `Scopes`. Same sources, cache
             * and errors as get(). In local mode `Environment` is LOCKBOX_ENV ('' without it) and
             * `Version` a hash of the resolved set (not the server's keyed one).
             *
             * @return array<string, mixed>
             */
            public static function runtimeSet(): array
            {
                foreach (['LOCKBOX_SECRETS_FILE', 'CUSTOMER_SECRETS_FAKE_FILE'] as $variable) {
                    $file = self::env($variable);
                    if ($file !== null) {
                        return self::localSet($file, $variable);
                    }
                }
                $url = self::env('LOCKBOX_URL');
                $token = self::env('LOCKBOX_RUNTIME_TOKEN');
                if ($url === null || $token === null) {
                    $missing = $url === null ? 'LOCKBOX_URL' : 'LOCKBOX_RUNTIME_TOKEN';
                    throw new \RuntimeException(
                        "Lockbox is not configured: {$missing} is not set. Set LOCKBOX_URL and "
                        . 'LOCKBOX_RUNTIME_TOKEN, or LOCKBOX_SECRETS_FILE for local development.'
                    );
                }
                return self::remoteSet(self::checkUrl($url), self::checkToken($token));
            }

            /**
             * The site environment's set from the process memo, the cache file, or the server.
             *
             * @return array<string, mixed>
             */
            private static function remoteSet(string $url, string $token): array
            {
                $key = \hash('sha256', "lockbox-php-cache-v1\0{$url}\0{$token}");
                $now = \time();
                $memo = self::$memo[$key] ?? null;
                if ($memo !== null && $memo['freshUntil'] > $now) {
                    return $memo['set'];
                }

                $dir = self::cacheDir();
                $path = $dir === null ? null : $dir . \DIRECTORY_SEPARATOR . "lockbox-{$key}.json";
                $cached = $path === null ? null : self::readCache($path);
                if ($cached !== null && $cached['checkedAt'] + self::TTL_SECONDS > $now) {
                    return self::remember($key, $cached, $cached['checkedAt'] + self::TTL_SECONDS);
                }
                $known = $cached ?? $memo;

                $response = self::fetch($url, $token, $known['etag'] ?? null);
                $status = $response['status'];
                if ($status === 200 && $response['set'] !== null) {
                    $fresh = ['set' => $response['set'], 'etag' => $response['etag'], 'checkedAt' => $now];
                    if ($path !== null) {
                        self::writeCache($path, $fresh);
                    }
                    return self::remember($key, $fresh, $now + self::TTL_SECONDS);
                }
                if ($status === 304 && $known !== null) {
                    $known['checkedAt'] = $now;
                    if ($path !== null && !($cached !== null && @\touch($path, $now))) {
                        self::writeCache($path, $known);
                    }
                    return self::remember($key, $known, $now + self::TTL_SECONDS);
                }
                if ($status === 401 || $status === 403) {
                    unset(self::$memo[$key]);
                    if ($cached !== null && $path !== null) {
                        @\unlink($path);
                    }
                    throw new \RuntimeException(
                        "Lockbox at '" . self::displayUrl($url) . "' refused the runtime token: "
                        . $response['problem'] . '. Check LOCKBOX_RUNTIME_TOKEN: it may have been revoked or '
                        . 'have expired, or belong to another server.'
                    );
                }

                $problem = $status === 304 ? 'HTTP 304 to a request it could not match' : $response['problem'];
                if ($known === null) {
                    throw new \RuntimeException(
                        "Cannot fetch secrets from Lockbox at '" . self::displayUrl($url) . "': {$problem}; "
                        . 'no cached copy is available. Check LOCKBOX_URL and that the server is running.'
                    );
                }
                self::warnOnce(
                    "stale:{$key}",
                    "cannot refresh secrets from '" . self::displayUrl($url) . "': {$problem}; "
                    . 'serving the cached copy and trying again in ' . self::RETRY_SECONDS . ' seconds.'
                );
                // Back off for every process sharing the cache file, not just this one.
                if ($cached !== null && $path !== null) {
                    @\touch($path, $now - self::TTL_SECONDS + self::RETRY_SECONDS);
                }
                return self::remember($key, $known, $now + self::RETRY_SECONDS);
            }

            /**
             * @param array{set: array<string, mixed>, etag: ?string, checkedAt: int} $snapshot
             * @return array<string, mixed>
             */
            private static function remember(string $key, array $snapshot, int $freshUntil): array
            {
                self::$memo[$key] = [
                    'set' => $snapshot['set'],
                    'etag' => $snapshot['etag'],
                    'checkedAt' => $snapshot['checkedAt'],
                    'freshUntil' => $freshUntil,
                ];
                return $snapshot['set'];
            }

            /**
             * One `GET /site/secrets`. `status` is 0 when no HTTP answer arrived; `set` is there
             * only for a 200 with a well-formed body; `problem` describes anything else.
             *
             * @return array{status: int, set: ?array<string, mixed>, etag: ?string, problem: string}
             */
            private static function fetch(string $url, string $token, ?string $etag): array
            {
                $headers = [
                    "Authorization: Bearer {$token}",
                    'Accept: application/json',
                    'User-Agent: lockbox-php-dropin/1',
                    'Connection: close',
                ];
                if ($etag !== null) {
                    $headers[] = "If-None-Match: {$etag}";
                }
                $context = \stream_context_create([
                    'http' => [
                        'method' => 'GET',
                        'header' => $headers,
                        'ignore_errors' => true,
                        'timeout' => self::TIMEOUT_SECONDS,
                        'follow_location' => 0,
                        'protocol_version' => 1.1,
                    ],
                ]);
                \error_clear_last();
                // The http:// stream wrapper, read through fopen() so the response headers come from
                // the stream's metadata: $http_response_header is deprecated in PHP 8.5 and
                // http_get_last_response_headers() only exists from 8.4.
                $stream = @\fopen($url . '/site/secrets', 'rb', false, $context);
                if ($stream === false) {
                    return ['status' => 0, 'set' => null, 'etag' => null, 'problem' => self::lastError()];
                }
                try {
                    $lines = \stream_get_meta_data($stream)['wrapper_data'] ?? [];
                    $body = @\stream_get_contents($stream);
                    if (\stream_get_meta_data($stream)['timed_out']) {
                        $body = false;
                    }
                } finally {
                    \fclose($stream);
                }
                $lines = \is_array($lines) ? $lines : [];
                $status = 0;
                $responseEtag = null;
                foreach ($lines as $line) {
                    if (\preg_match('~^HTTP/\S+\s+(\d{3})~', $line, $m) === 1) {
                        $status = (int) $m[1];
                        $responseEtag = null;
                    } elseif (\preg_match('~^etag:\s*([\x20-\x7e]+?)\s*$~i', $line, $m) === 1) {
                        $responseEtag = $m[1];
                    }
                }
                if ($status === 0 || $body === false) {
                    $problem = $status === 0 ? 'no HTTP answer' : 'the answer timed out or broke off';
                    return ['status' => 0, 'set' => null, 'etag' => null, 'problem' => $problem];
                }
                if ($status === 200) {
                    $set = self::parseSet(\json_decode($body, true));
                    if ($set !== null) {
                        return ['status' => 200, 'set' => $set, 'etag' => $responseEtag, 'problem' => ''];
                    }
                    return [
                        'status' => 200,
                        'set' => null,
                        'etag' => null,
                        'problem' => 'HTTP 200 with a body that is not a secrets set',
                    ];
                }
                return ['status' => $status, 'set' => null, 'etag' => null, 'problem' => self::describe($status, $body)];
            }

            /**
             * A decoded `GET /site/secrets` body (or cached copy) in the SPEC §3 shape, or null when it is
             * not one. Every value must be a string; a missing Type, Scopes or metadata gets a default.
             *
             * @return ?array<string, mixed>
             */
            private static function parseSet(mixed $data): ?array
            {
                if (!\is_array($data) || !\is_array($data['Secrets'] ?? null)) {
                    return null;
                }
                $secrets = [];
                foreach ($data['Secrets'] as $name => $secret) {
                    if (!\is_array($secret) || !\is_string($secret['Value'] ?? null)) {
                        return null;
                    }
                    $secrets[(string) $name] = [
                        'Type' => \is_string($secret['Type'] ?? null) ? $secret['Type'] : 'runtime',
                        'Value' => $secret['Value'],
                        'Scopes' => self::scopeList($secret['Scopes'] ?? null),
                    ];
                }
                return [
                    'SiteID' => \is_string($data['SiteID'] ?? null) ? $data['SiteID'] : '',
                    'Environment' => \is_string($data['Environment'] ?? null) ? $data['Environment'] : '',
                    'Secrets' => $secrets,
                    'Count' => \count($secrets),
                    'Version' => \is_string($data['Version'] ?? null) ? $data['Version'] : '',
                    'Scopes' => self::scopeList($data['Scopes'] ?? null),
                ];
            }

            /** @return list<string> the strings of a Scopes list; absent or malformed means ["web"] */
            private static function scopeList(mixed $scopes): array
            {
                return \is_array($scopes) ? \array_values(\array_filter($scopes, 'is_string')) : ['web'];
            }

            /** "HTTP 503 (CODE: message)" from a Lockbox error body, bounded and single-line. */
            private static function describe(int $status, string $body): string
            {
                $data = \json_decode($body, true);
                $error = \is_array($data) && \is_array($data['error'] ?? null) ? $data['error'] : [];
                $code = \is_string($error['code'] ?? null) ? $error['code'] : '';
                $message = \is_string($error['message'] ?? null) ? $error['message'] : '';
                $detail = \trim($code . ($code !== '' && $message !== '' ? ': ' : '') . $message);
                $detail = (string) \preg_replace('~[\x00-\x1f\x7f]+~', ' ', $detail);
                if (\strlen($detail) > 200) {
                    $detail = \substr($detail, 0, 200) . '...';
                }
                return "HTTP {$status}" . ($detail === '' ? '' : " ({$detail})");
            }

            /** Why the last stream call failed, without PHP's "fopen(URL): " prefix. */
            private static function lastError(): string
            {
                $message = \error_get_last()['message'] ?? '';
                $message = (string) \preg_replace('~^.*?failed to open stream:\s*~i', '', $message);
                $message = \trim((string) \preg_replace('~[\x00-\x1f\x7f]+~', ' ', $message));
                return $message === '' ? 'no answer' : $message;
            }

            /**
             * The cached snapshot at `$path`, or null when there is none, or it is not a private regular
             * file of this user, or it cannot be parsed. `checkedAt` is the file's mtime.
             *
             * @return ?array{set: array<string, mixed>, etag: ?string, checkedAt: int}
             */
            private static function readCache(string $path): ?array
            {
                \clearstatcache(true, $path);
                $stat = @\lstat($path);
                if ($stat === false) {
                    return null;
                }
                $regular = ($stat['mode'] & 0170000) === 0100000;
                $ours = !\function_exists('posix_geteuid') || $stat['uid'] === \posix_geteuid();
                if (!$regular || !$ours || ($stat['mode'] & 0077) !== 0) {
                    self::warnOnce(
                        "unsafe:{$path}",
                        "ignoring the cache file '{$path}': it is not a regular file owned by this user with "
                        . 'mode 0600. Remove it, or set LOCKBOX_CACHE_DIR to a private directory.'
                    );
                    return null;
                }
                $raw = @\file_get_contents($path);
                $data = $raw === false ? null : \json_decode($raw, true);
                if (
                    !\is_array($data)
                    || ($data['format'] ?? null) !== self::CACHE_FORMAT
                    || ($set = self::parseSet($data['set'] ?? null)) === null
                ) {
                    return null;
                }
                $etag = $data['etag'] ?? null;
                if ($etag !== null && (!\is_string($etag) || \preg_match('~^[\x20-\x7e]+$~D', $etag) !== 1)) {
                    return null;
                }
                return ['set' => $set, 'etag' => $etag, 'checkedAt' => (int) $stat['mtime']];
            }

            /**
             * Replaces the cache file atomically with a 0600 file whose mtime is `checkedAt`. Failure only
             * logs a warning: the set is still served from the process memo.
             *
             * @param array{set: array<string, mixed>, etag: ?string, checkedAt: int} $snapshot
             */
            private static function writeCache(string $path, array $snapshot): void
            {
                $json = \json_encode(
                    [
                        'format' => self::CACHE_FORMAT,
                        'etag' => $snapshot['etag'],
                        'set' => ['Secrets' => (object) $snapshot['set']['Secrets']] + $snapshot['set'],
                    ],
                    \JSON_UNESCAPED_SLASHES | \JSON_UNESCAPED_UNICODE
                );
                \error_clear_last();
                $tmp = \dirname($path) . \DIRECTORY_SEPARATOR . '.lockbox-' . \bin2hex(\random_bytes(8)) . '.tmp';
                $previousUmask = \umask(0077);
                try {
                    // 'x' is O_CREAT|O_EXCL: never opens an existing file or follows a planted symlink.
                    $handle = $json === false ? false : @\fopen($tmp, 'xb');
                } finally {
                    \umask($previousUmask);
                }
                $ok = $handle !== false;
                if ($handle !== false) {
                    $ok = @\fwrite($handle, (string) $json) === \strlen((string) $json);
                    $ok = @\fclose($handle) && $ok;
                    $ok = $ok && @\chmod($tmp, 0600)
                        && @\touch($tmp, $snapshot['checkedAt'])
                        && @\rename($tmp, $path);
                    if (!$ok) {
                        @\unlink($tmp);
                    }
                }
                if (!$ok) {
                    self::warnOnce(
                        "write:{$path}",
                        "cannot write the cache file '{$path}' (" . self::lastError() . '); secrets are fetched '
                        . 'once per process instead. Set LOCKBOX_CACHE_DIR to a directory this user can write.'
                    );
                }
            }

            /** LOCKBOX_CACHE_DIR (created 0700 when missing) or the system temporary directory. */
            private static function cacheDir(): ?string
            {
                $dir = self::env('LOCKBOX_CACHE_DIR');
                if ($dir === null) {
                    return \rtrim(\sys_get_temp_dir(), '/\\');
                }
                \error_clear_last();
                if (!\is_dir($dir) && !@\mkdir($dir, 0700, true) && !\is_dir($dir)) {
                    self::warnOnce(
                        "mkdir:{$dir}",
                        "cannot create LOCKBOX_CACHE_DIR '{$dir}' (" . self::lastError() . '); secrets are '
                        . 'fetched once per process instead.'
                    );
                    return null;
                }
                return \rtrim($dir, '/\\');
            }

            /**
             * The set a local secrets file gives for LOCKBOX_ENV (see LOCAL MODE above), in the shape of
             * runtimeSet(). Read once per process; resolved once per environment.
             *
             * @return array<string, mixed>
             */
            private static function localSet(string $path, string $variable): array
            {
                if (!isset(self::$localFiles[$path])) {
                    \error_clear_last();
                    $raw = @\file_get_contents($path);
                    if ($raw === false) {
                        throw new \RuntimeException(
                            "Cannot read the local secrets file '{$path}' named by {$variable}: "
                            . self::lastError() . '. Create it with `lockbox secret:site:local-generate`, '
                            . "or unset {$variable}."
                        );
                    }
                    // A byte order mark, as some editors write, is not JSON but says nothing wrong.
                    $data = \json_decode((string) \preg_replace('~^\xEF\xBB\xBF~', '', $raw), true);
                    if (\json_last_error() !== \JSON_ERROR_NONE) {
                        // json_last_error_msg() names the problem without quoting the text (a value).
                        throw new \RuntimeException(
                            "The local secrets file '{$path}' named by {$variable} is not valid JSON ("
                            . \json_last_error_msg() . '). Fix it, or write it again with '
                            . '`lockbox secret:site:local-generate`.'
                        );
                    }
                    if (!\is_array($data) || !\is_array($data['Secrets'] ?? null)) {
                        throw new \RuntimeException(
                            "The local secrets file '{$path}' named by {$variable} is not a Lockbox secrets file: "
                            . 'it needs a JSON object with a "Secrets" object, as written by '
                            . '`lockbox secret:site:local-generate`.'
                        );
                    }
                    self::$localFiles[$path] = $data;
                }
                $env = self::env('LOCKBOX_ENV');
                // A name no environment can have would silently give the base values (Live, not live).
                if ($env !== null && !\preg_match('~^[a-z0-9][a-z0-9-]{0,10}$~D', $env)) {
                    throw new \RuntimeException(
                        "LOCKBOX_ENV '{$env}' is not an environment name: use dev, test, live or a multidev "
                        . 'name (1-11 lowercase letters, digits and hyphens), as the site has it.'
                    );
                }
                $memoKey = $path . "\0" . ($env ?? '');
                if (!isset(self::$localSets[$memoKey])) {
                    $data = self::$localFiles[$path];
                    $secrets = [];
                    foreach ($data['Secrets'] as $name => $row) {
                        $secret = \is_array($row) ? self::localSecret($row, $env) : null;
                        if ($secret !== null) {
                            $secrets[(string) $name] = $secret;
                        }
                    }
                    \ksort($secrets, \SORT_STRING);
                    $siteId = \is_string($data['EntityId'] ?? null) ? $data['EntityId'] : '';
                    $json = (string) \json_encode([$siteId, $env ?? '', $secrets], \JSON_UNESCAPED_UNICODE);
                    self::$localSets[$memoKey] = [
                        'SiteID' => $siteId,
                        'Environment' => $env ?? '',
                        'Secrets' => $secrets,
                        'Count' => \count($secrets),
                        'Version' => \substr(\hash('sha256', "lockbox-local-v1\0{$json}"), 0, 32),
                        'Scopes' => ['web'],
                    ];
                }
                return self::$localSets[$memoKey];
            }

            /**
             * One row of a local file resolved for `$env` with scope `web`, or null when the application
             * gets nothing. A value from the org side carries the org secret's scopes (`OrgScopes`).
             *
             * @param array<mixed> $secret
             * @return ?array{Type: string, Value: string, Scopes: list<string>}
             */
            private static function localSecret(array $secret, ?string $env): ?array
            {
                $siteEnv = $env === null ? null : self::stringAt($secret['EnvValues'] ?? null, $env);
                $orgEnv = $env === null ? null : self::stringAt($secret['OrgValues'] ?? null, $env);
                $value = \is_string($secret['Value'] ?? null) ? $secret['Value'] : null;
                $orgBase = self::stringAt($secret['OrgValues'] ?? null, 'default');
                $readable = self::webReadable($secret['Scopes'] ?? null);
                $type = \is_string($secret['Type'] ?? null) ? $secret['Type'] : 'runtime';
                $scopes = self::scopeList($secret['Scopes'] ?? null);
                if (($secret['Owner'] ?? null) === 'org') {
                    $resolved = $readable ? $siteEnv ?? $orgEnv ?? $value ?? $orgBase : null;
                } else {
                    $resolved = $readable ? $siteEnv ?? $value : null;
                    if ($resolved === null && self::webReadable($secret['OrgScopes'] ?? null)) {
                        $resolved = $orgEnv ?? $orgBase;
                        $scopes = self::scopeList($secret['OrgScopes'] ?? null);
                    }
                }
                return $resolved === null ? null : ['Type' => $type, 'Value' => $resolved, 'Scopes' => $scopes];
            }

            /** Whether the application (scope `web`) reads a secret with these scopes; none listed reads. */
            private static function webReadable(mixed $scopes): bool
            {
                return !\is_array($scopes) || \in_array('web', $scopes, true);
            }

            /** `$map[$key]` when `$map` is an array and that entry a string; null (absent) otherwise. */
            private static function stringAt(mixed $map, string $key): ?string
            {
                return \is_array($map) && \is_string($map[$key] ?? null) ? $map[$key] : null;
            }

            private static function checkUrl(string $url): string
            {
                $url = \rtrim($url, '/');
                $parts = \parse_url($url);
                $scheme = \is_array($parts) ? \strtolower($parts['scheme'] ?? '') : '';
                if (
                    ($scheme !== 'http' && $scheme !== 'https')
                    || !isset($parts['host'])
                    || \preg_match('~[\x00-\x20\x7f]~', $url) === 1
                ) {
                    throw new \RuntimeException(
                        "LOCKBOX_URL '" . self::displayUrl($url) . "' is not an http:// or https:// URL. Set it to "
                        . 'the Lockbox server address, for example https://lockbox.example.com.'
                    );
                }
                return $url;
            }

            private static function checkToken(string $token): string
            {
                // A token goes into a header line: refuse anything that could end or extend it.
                if (\preg_match('~^[\x21-\x7e]+$~D', $token) !== 1) {
                    throw new \RuntimeException(
                        'LOCKBOX_RUNTIME_TOKEN contains whitespace or control characters. Set it to the token '
                        . 'exactly as `lockbox token:runtime:create` printed it.'
                    );
                }
                return $token;
            }

            /** The URL without user:password, for messages. */
            private static function displayUrl(string $url): string
            {
                return (string) \preg_replace('~^([a-z][a-z0-9+.-]*://)[^/@]*@~i', '$1', $url);
            }

            private static function env(string $name): ?string
            {
                $value = \getenv($name);
                return \is_string($value) && $value !== '' ? $value : null;
            }

            private static function warnOnce(string $key, string $message): void
            {
                if (!isset(self::$warned[$key])) {
                    self::$warned[$key] = true;
                    \error_log("Lockbox: {$message}");
                }
            }
        }
    }
}

namespace {
    if (!\function_exists('pantheon_get_secret')) {
        /**
         * The value of the site secret `$name` for this site environment (scope `web`), or null when
         * there is none. See the top of this file for configuration, caching and errors.
         *
         * @throws RuntimeException when Lockbox is not configured, refuses the token, or cannot be
         *   reached while no cached copy exists; or when the local secrets file is unreadable.
         */
        function pantheon_get_secret(string $name): ?string
        {
            return \Lockbox\DropIn\RuntimeSecrets::get($name);
        }
    }
}
