import { quoteIdentifier } from "@lockbox/core";
import { LockboxApiError, LockboxConnectionError } from "@lockbox/sdk";
import { type Command, Option } from "commander";
import { formatOption, withExamples } from "../command-helpers.js";
import {
  configPath,
  readConfig,
  removeConfig,
  resolveCredentials,
  type SavedConfig,
  writeConfig,
} from "../config.js";
import type { CliContext } from "../context.js";
import { CliError, UsageError } from "../errors.js";
import { decodeUtf8, promptLine, readStdinBytes } from "../input.js";
import { type ListFormat, printRecord } from "../output.js";

/** The server `auth:login` uses when neither `--url`, `LOCKBOX_URL` nor a saved login names one. */
export const DEFAULT_SERVER_URL = "http://127.0.0.1:8200";

/** Registers `auth:login`, `auth:whoami` and `auth:logout`. */
export function registerAuthCommands(program: Command, context: CliContext): void {
  program.commandsGroup("Authentication:");

  withExamples(
    program
      .command("auth:login")
      .description(
        "Save a server URL and a user token for the next commands. The token is read from a prompt without echo, from stdin, or from LOCKBOX_TOKEN — never from the command line — and checked with the server before it is saved.",
      )
      .option(
        "--url <url>",
        `the server's URL (default: LOCKBOX_URL, the saved one, or ${DEFAULT_SERVER_URL})`,
      )
      // Declared only to refuse it with a reason: a token on the command line leaks into shell
      // history and the process list.
      .addOption(new Option("--token <token>").hideHelp())
      .action(async (options: { url?: string; token?: string }) => {
        if (options.token !== undefined) {
          throw new UsageError(
            "auth:login does not take the token on the command line, where shell history and the process list would keep it: type it at the prompt, pipe it on stdin, or set LOCKBOX_TOKEN.",
          );
        }
        if (options.url !== undefined) checkLoginUrl(options.url);
        const saved = await readConfig(context.configDir).catch(() => undefined);
        const fromEnv = nonEmpty(context.io.env.LOCKBOX_URL);
        const url = options.url ?? fromEnv ?? saved?.url ?? DEFAULT_SERVER_URL;
        const urlSource =
          options.url !== undefined
            ? "--url"
            : fromEnv !== undefined
              ? "LOCKBOX_URL"
              : saved?.url !== undefined
                ? "the saved login"
                : "the default: no --url was given";
        const token = await readLoginToken(context);
        checkTokenKind(token);
        const client = context.clientFor(url, token);
        let email: string;
        try {
          email = (await client.whoami()).user.email;
        } catch (error) {
          if (error instanceof LockboxApiError && (error.status === 401 || error.status === 403)) {
            throw new CliError(
              `The server at ${client.url} refused the token: ${error.message} Nothing was saved.`,
            );
          }
          if (error instanceof LockboxConnectionError) {
            // The generic hint ("… or run lockbox auth:login") would send the user back here.
            throw new CliError(
              `Cannot reach the Lockbox server at ${client.url} (${urlSource}): ${error.reason}. Nothing was saved. Start the server, or give its URL: lockbox auth:login --url=<server URL>.`,
            );
          }
          throw error;
        }
        const config: SavedConfig = { url: client.url, token };
        const path = await writeConfig(context.configDir, config);
        context.info(`Logged in to ${client.url} as ${email}. Saved to ${path}.`);
      }),
    [
      "lockbox auth:login --url=https://lockbox.example.com",
      "lockbox auth:login --url=http://127.0.0.1:8200 < ~/lockbox-token.txt",
      "pass show lockbox/token | lockbox auth:login",
    ],
  );

  withExamples(
    program
      .command("auth:whoami")
      .description("Show the server, user and token the next commands will use.")
      .addOption(formatOption(["table", "json", "yaml"]))
      .action(async (options: { format: ListFormat }) => {
        const saved = await readConfig(context.configDir, (message) => context.warn(message));
        const credentials = resolveCredentials(context.io.env, saved);
        const client = context.clientFor(credentials.url, credentials.token);
        const who = await client.whoami();
        const tokenSource =
          credentials.tokenSource === "config" ? configPath(context.configDir) : "LOCKBOX_TOKEN";
        printRecord(
          context,
          { url: client.url, tokenSource, user: who.user, token: who.token },
          [
            ["email", who.user.email],
            ["user id", who.user.id],
            ["platform admin", who.user.admin === true ? "yes" : "no"],
            ["token id", who.token.id],
            ["token expires", who.token.expiresAt ?? "never"],
            ["server", client.url],
            ["token from", tokenSource],
          ],
          options.format,
        );
      }),
    ["lockbox auth:whoami", "lockbox auth:whoami --format=json"],
  );

  withExamples(
    program
      .command("auth:logout")
      .description(
        "Forget the saved server and token. The token stays valid until revoked (lockbox token:revoke <id>).",
      )
      .action(async () => {
        const removed = await removeConfig(context.configDir);
        context.info(
          removed
            ? `Logged out: deleted ${configPath(context.configDir)}.`
            : "Not logged in: there was no saved login to delete.",
        );
        if (nonEmpty(context.io.env.LOCKBOX_TOKEN) !== undefined) {
          context.warn(
            "LOCKBOX_TOKEN is still set in this environment, so commands will keep using it: unset it.",
          );
        }
      }),
    ["lockbox auth:logout"],
  );
}

async function readLoginToken(context: CliContext): Promise<string> {
  const { io } = context;
  let token: string;
  const fromEnv = nonEmpty(io.env.LOCKBOX_TOKEN);
  if (fromEnv !== undefined) {
    context.info("Using the token in LOCKBOX_TOKEN.");
    token = fromEnv;
  } else if (io.stdin.isTTY) {
    token = await promptLine(io, "Lockbox token (input is hidden): ", { echo: false });
  } else {
    token = decodeUtf8(await readStdinBytes(io.stdin, "token"), "The token read from stdin");
  }
  token = token.trim();
  if (token === "") {
    throw new UsageError(
      "No token was given: type it at the prompt, pipe it on stdin (lockbox auth:login < token.txt) or set LOCKBOX_TOKEN. An admin creates one with lockbox token:create --user=EMAIL.",
    );
  }
  return token;
}

function checkTokenKind(token: string): void {
  const kinds: Record<string, string> = { lbr_: "a runtime token", lbb_: "a build token" };
  const kind = kinds[token.slice(0, 4)];
  if (kind !== undefined) {
    throw new UsageError(
      `This is ${kind}, which reads secrets for one environment only: auth:login needs a user token (lbx_…). Create one with lockbox token:create.`,
    );
  }
}

function nonEmpty(text: string | undefined): string | undefined {
  const trimmed = text?.trim();
  return trimmed === undefined || trimmed === "" ? undefined : trimmed;
}

/**
 * Refuses, before the token is asked for, the `--url` mistakes a person makes: no scheme
 * (`127.0.0.1:8200`), another scheme, or the API's `/v1` path where the server's base URL goes.
 */
function checkLoginUrl(text: string): void {
  const shown = quoteIdentifier(text);
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw new UsageError(`--url ${shown} has no scheme: use http://${text} or https://${text}.`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--url ${shown} is not a valid URL: use the form https://lockbox.example.com.`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`--url ${shown} is not an http:// or https:// URL.`);
  }
  if (/\/v1\/?$/.test(url.pathname)) {
    const base = `${url.origin}${url.pathname.replace(/\/v1\/?$/, "")}`;
    throw new UsageError(
      `--url ${shown} ends with /v1: give the server's base URL, ${base} (the CLI adds /v1).`,
    );
  }
}
