import { isLockboxError, parseTokenLifetime, TOKEN_LIFETIME_FORMAT } from "@lockbox/core";
import {
  type CreatedToken,
  LockboxApiError,
  type LockboxClient,
  type RemovalResult,
  type TokenInfo,
} from "@lockbox/sdk";
import { type Command, Option } from "commander";
import { parseSiteArg } from "../arguments.js";
import { formatOption, pick, withExamples } from "../command-helpers.js";
import type { CliContext } from "../context.js";
import { CliError, UsageError } from "../errors.js";
import { type ListFormat, printList } from "../output.js";
import { parseUserArg } from "./users.js";

/**
 * Shows a new token: what it is to stderr, then the token alone as the last line of stdout, so
 * `lockbox token:… | tail -n1` or `$(lockbox token:…)` captures exactly the token.
 */
function printToken(context: CliContext, created: CreatedToken, what: string, use: string): void {
  const expiry = created.expiresAt ? `valid until ${created.expiresAt}` : "valid until revoked";
  context.info(
    `Created ${what} (id ${created.id}), ${expiry}. ${use} It is shown only this once: store it now.`,
  );
  context.data(created.token);
}

/** `--expires-in`, on every command that mints a token. */
function expiresInOption(): Option {
  return new Option(
    "--expires-in <duration>",
    `the token's lifetime: ${TOKEN_LIFETIME_FORMAT} (default: valid until revoked)`,
  );
}

/**
 * Checks `--expires-in` before anything is sent, with the server's own rule.
 * @throws {UsageError} naming the accepted format and the maximum.
 */
function parseExpiresIn(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    parseTokenLifetime(text, "--expires-in");
  } catch (error) {
    if (isLockboxError(error)) throw new UsageError(error.message);
    throw error;
  }
  return text;
}

/**
 * `createToken`, with the server's name of the lifetime field (`expiresIn`) in a refusal said as
 * the option the user typed (`--expires-in`).
 */
async function mint(client: LockboxClient, input: Parameters<LockboxClient["createToken"]>[0]) {
  try {
    return await client.createToken(input);
  } catch (error) {
    if (error instanceof LockboxApiError && error.message.includes("expiresIn")) {
      throw new CliError(error.message.replaceAll("expiresIn", "--expires-in"));
    }
    throw error;
  }
}

/**
 * Reports a removal from an organization or a site team: the server's message, then one
 * `lockbox token:revoke <id>` line per runtime or build token the person minted there that still
 * works (they are left active: an application or a build may run on them).
 */
export function reportRemoval(
  context: CliContext,
  result: RemovalResult | undefined,
  fallback: string,
): void {
  context.info(result?.message ?? fallback);
  for (const token of result?.tokensStillActive ?? []) {
    const expires = token.expiresAt === null ? "expires never" : `expires ${token.expiresAt}`;
    context.info(`  lockbox token:revoke ${token.id}   # ${token.kind} ${binding(token) ?? ""}, ${expires}`);
  }
}

/** A token's binding as people read it: `my-site.live` for runtime and build tokens. */
function binding(token: TokenInfo): string | undefined {
  const site = pick(token, "siteName", "site", "siteId");
  const env = pick(token, "environmentName", "environment", "env");
  if (site === undefined) return undefined;
  return env === undefined ? site : `${site}.${env}`;
}

/** Registers `token:create`, `token:runtime:create`, `token:build:create`, `token:list` and `token:revoke`. */
export function registerTokenCommands(program: Command, context: CliContext): void {
  program.commandsGroup("Tokens:");

  withExamples(
    program
      .command("token:create")
      .description(
        "Create a user token for yourself, or with --user for another user (platform admin). The token is printed once, alone on the last line of stdout.",
      )
      .option("--user <email>", "the user the token is for (default: you)")
      .addOption(expiresInOption())
      .action(async (options: { user?: string; expiresIn?: string }) => {
        const user = options.user === undefined ? undefined : parseUserArg(options.user);
        const expiresIn = parseExpiresIn(options.expiresIn);
        const client = await context.client();
        const created = await mint(client, { kind: "user", user, expiresIn });
        printToken(
          context,
          created,
          `a user token for ${user === undefined ? "you" : `'${user}'`}`,
          "Log in with it: lockbox auth:login.",
        );
      }),
    [
      "lockbox token:create",
      "lockbox token:create --user=alice@example.com --expires-in=90d",
      "lockbox token:create --user=alice@example.com | tail -n1 > alice.token",
    ],
  );

  withExamples(
    program
      .command("token:runtime:create")
      .description(
        "Create a runtime token bound to one site environment, for the application's LOCKBOX_RUNTIME_TOKEN. Printed once, alone on the last line of stdout.",
      )
      .argument("<site.env>", "site and environment, e.g. my-site.live")
      .addOption(expiresInOption())
      .action(async (target: string, options: { expiresIn?: string }) => {
        const { site, env } = parseSiteArg(target, "required");
        const expiresIn = parseExpiresIn(options.expiresIn);
        const client = await context.client();
        const created = await mint(client, { kind: "runtime", site, env: env as string, expiresIn });
        printToken(
          context,
          created,
          `a runtime token for ${site}.${env}`,
          "Give it to the application as LOCKBOX_RUNTIME_TOKEN.",
        );
      }),
    [
      "lockbox token:runtime:create my-site.live",
      "lockbox token:runtime:create my-site.live --expires-in=90d",
    ],
  );

  withExamples(
    program
      .command("token:build:create")
      .description(
        "Create a build token bound to dev or a multidev, for LOCKBOX_BUILD_TOKEN in Integrated Composer builds. Printed once, alone on the last line of stdout.",
      )
      .argument("<site.env>", "site and environment (dev or a multidev), e.g. my-site.dev")
      .addOption(expiresInOption())
      .action(async (target: string, options: { expiresIn?: string }) => {
        const { site, env } = parseSiteArg(target, "required");
        const expiresIn = parseExpiresIn(options.expiresIn);
        const client = await context.client();
        const created = await mint(client, { kind: "build", site, env: env as string, expiresIn });
        printToken(
          context,
          created,
          `a build token for ${site}.${env}`,
          "Give it to the build as LOCKBOX_BUILD_TOKEN.",
        );
      }),
    ["lockbox token:build:create my-site.dev", "lockbox token:build:create my-site.dev --expires-in=12h"],
  );

  withExamples(
    program
      .command("token:list")
      .description(
        "List tokens by id (never the tokens themselves), revoked ones included: yours, a user's (--user) or a site's (--site).",
      )
      .option("--user <email>", "tokens of this user")
      .option("--site <site>", "runtime and build tokens of this site")
      .addOption(formatOption())
      .action(async (options: { user?: string; site?: string; format: ListFormat }) => {
        const user = options.user === undefined ? undefined : parseUserArg(options.user);
        const site = options.site === undefined ? undefined : parseSiteArg(options.site, "forbidden").site;
        const client = await context.client();
        const tokens = await client.listTokens({ user, site });
        printList<TokenInfo>(
          context,
          tokens,
          [
            { header: "id", get: (token) => token.id },
            { header: "kind", get: (token) => token.kind },
            { header: "user", get: (token) => pick(token, "userEmail", "user", "userId") },
            { header: "binding", get: binding },
            { header: "created", get: (token) => pick(token, "createdAt") },
            { header: "last used", get: (token) => pick(token, "lastUsedAt") ?? "never" },
            { header: "expires", get: (token) => pick(token, "expiresAt") ?? "never" },
            { header: "revoked", get: (token) => pick(token, "revokedAt") ?? "no" },
          ],
          options.format,
          "You have no Tokens.",
        );
      }),
    [
      "lockbox token:list",
      "lockbox token:list --site=my-site",
      "lockbox token:list --user=alice@example.com --format=json",
    ],
  );

  withExamples(
    program
      .command("token:revoke")
      .description("Revoke a token at once, by the id token:list shows.")
      .argument("<id>", "the token's id")
      .action(async (id: string) => {
        if (/^lb[xrb]_/.test(id)) {
          throw new UsageError(
            "That looks like a token, not a token id: find its id with lockbox token:list (a token that may have leaked should be revoked by its id).",
          );
        }
        const client = await context.client();
        await client.revokeToken(id);
        context.info(`Token '${id}' revoked.`);
      }),
    ["lockbox token:revoke 0b7c4b3e-2f1a-4d7e-9a55-2d1f0c9e8b11"],
  );
}
