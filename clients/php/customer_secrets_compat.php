<?php

/**
 * Lockbox drop-in for sites built on the seed product's PHP SDK
 * (`pantheon-systems/customer-secrets-php-sdk`, and modules built on it such as Drupal's Key
 * provider for Pantheon secrets): load this file before the SDK runs, and unchanged SDK code reads
 * Lockbox.
 *
 *     require_once __DIR__ . '/customer_secrets_compat.php'; // also loads pantheon_get_secret.php
 *     $value = \PantheonSystems\CustomerSecrets\CustomerSecrets::create()
 *         ->getClient()->getSecret('API_KEY')->getValue();
 *
 * The SDK uses its real client when the class `\Pantheon\Internal\CustomerSecrets\CustomerSecretsClient`
 * exists (the platform normally provides it), else a fake client reading a local file. This file
 * defines that class and its interface `CustomerSecretsClientInterface`, each only when absent, so a
 * platform's own definitions win and requiring the file twice is harmless. The class's `get()`
 * returns the runtime set in the wire shape of `GET /site/secrets` (SPEC §3):
 *
 *     ['SiteID' => uuid, 'Environment' => env, 'Secrets' => [name => ['Type' => t, 'Value' => v,
 *      'Scopes' => [...]]], 'Count' => n, 'Version' => string, 'Scopes' => ['web']]
 *
 * It is pantheon_get_secret.php underneath (a second file so that one stays the single file most
 * sites need): the same configuration (LOCKBOX_URL + LOCKBOX_RUNTIME_TOKEN, or LOCKBOX_SECRETS_FILE /
 * CUSTOMER_SECRETS_FAKE_FILE with LOCKBOX_ENV), the same 300 s cache revalidated with If-None-Match,
 * and the same errors: `get()` throws a RuntimeException (naming the URL or file, never the token or
 * a value) when Lockbox is not configured, refuses the token (revoked, expired), or cannot be
 * reached while no cached set exists; with a cached set, an unreachable server gets the cached set
 * and one warning in error_log(). It never returns an empty or partial set in place of an error.
 */

declare(strict_types=1);

namespace Pantheon\Internal\CustomerSecrets {
    require_once __DIR__ . '/pantheon_get_secret.php';

    if (!\interface_exists(CustomerSecretsClientInterface::class, false)) {
        /** The platform's internal client, as the seed SDK types its property. */
        interface CustomerSecretsClientInterface
        {
            /**
             * The secrets of the current site environment (scope `web`), in the SPEC §3 wire shape.
             *
             * @return array<string, mixed>
             */
            public function get(): array;
        }
    }

    if (!\class_exists(CustomerSecretsClient::class, false)) {
        /** The platform's internal client, answered by Lockbox. */
        final class CustomerSecretsClient implements CustomerSecretsClientInterface
        {
            /**
             * What the seed SDK calls: `create(['version' => '1'])`. Only version 1 (the SPEC §3 shape)
             * exists; another is refused rather than answered in a shape its caller does not expect.
             *
             * @param array<string, mixed> $args
             */
            public static function create(array $args = []): CustomerSecretsClientInterface
            {
                $version = $args['version'] ?? '1';
                if (!\in_array($version, ['1', 1], true)) {
                    throw new \InvalidArgumentException(
                        'Lockbox answers CustomerSecretsClient::create() with version 1 only, not '
                        . (\is_scalar($version) ? \var_export($version, true) : \get_debug_type($version))
                        . ". Pass ['version' => '1']."
                    );
                }
                return new self();
            }

            /**
             * @return array<string, mixed>
             * @throws \RuntimeException see the top of this file
             */
            public function get(): array
            {
                return \Lockbox\DropIn\RuntimeSecrets::runtimeSet();
            }
        }
    }
}
