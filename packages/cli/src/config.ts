import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { CliError, UsageError } from "./errors.js";

/** What `auth:login` saves: the server and a user token. */
export interface SavedConfig {
  readonly url: string;
  readonly token: string;
}

/** The server and token a command uses, and where each came from. */
export interface Credentials {
  readonly url: string;
  readonly token: string;
  readonly urlSource: "LOCKBOX_URL" | "config";
  readonly tokenSource: "LOCKBOX_TOKEN" | "config";
}

/** The name of the file in the config directory. */
export const CONFIG_FILE_NAME = "config.json";

/**
 * The config directory: `configDir` when given, else `$XDG_CONFIG_HOME/lockbox` (when that is an
 * absolute path, as the XDG spec requires), else `$HOME/.config/lockbox`.
 */
export function configDirectory(io: {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly configDir?: string | undefined;
}): string {
  if (io.configDir !== undefined) return io.configDir;
  const xdg = io.env.XDG_CONFIG_HOME;
  if (xdg !== undefined && xdg !== "" && isAbsolute(xdg)) return join(xdg, "lockbox");
  const home = io.env.HOME !== undefined && io.env.HOME !== "" ? io.env.HOME : homedir();
  return join(home, ".config", "lockbox");
}

/** The path of `config.json` in `dir`. */
export function configPath(dir: string): string {
  return join(dir, CONFIG_FILE_NAME);
}

/**
 * Reads the saved login, or `undefined` when there is none. Warns (through `warn`) when the file
 * can be read by other users.
 *
 * @throws {CliError} when the file exists but is not a valid config, naming the fix.
 */
export async function readConfig(
  dir: string,
  warn?: (message: string) => void,
): Promise<SavedConfig | undefined> {
  const path = configPath(dir);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliError(`Cannot read the Lockbox config file ${path}: ${(error as Error).message}.`);
  }
  if (warn && process.platform !== "win32") {
    const mode = (await stat(path)).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      warn(`${path} can be read by other users (mode ${mode.toString(8)}): run chmod 600 ${path}.`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(
      `The Lockbox config file ${path} is not valid JSON: delete it and run lockbox auth:login.`,
    );
  }
  const { url, token } = (typeof parsed === "object" && parsed !== null ? parsed : {}) as {
    url?: unknown;
    token?: unknown;
  };
  if (typeof url !== "string" || typeof token !== "string") {
    throw new CliError(
      `The Lockbox config file ${path} lacks a url or a token: delete it and run lockbox auth:login.`,
    );
  }
  return { url, token };
}

/**
 * Saves the login to `dir/config.json` atomically (a temporary file renamed over it), the file
 * with mode 0600 and the directory with mode 0700. Returns the file's path.
 */
export async function writeConfig(dir: string, config: SavedConfig): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const path = configPath(dir);
  const temporary = join(dir, `.${CONFIG_FILE_NAME}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeFile(temporary, `${JSON.stringify({ url: config.url, token: config.token }, null, 2)}\n`, {
      mode: 0o600,
      flag: "wx",
    });
    await chmod(temporary, 0o600);
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw new CliError(`Cannot write the Lockbox config file ${path}: ${(error as Error).message}.`);
  }
  return path;
}

/** Deletes the saved login. Answers false when there was none. */
export async function removeConfig(dir: string): Promise<boolean> {
  try {
    await unlink(configPath(dir));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw new CliError(
      `Cannot delete the Lockbox config file ${configPath(dir)}: ${(error as Error).message}.`,
    );
  }
}

/**
 * The server and token to use: `LOCKBOX_URL` and `LOCKBOX_TOKEN` win over the saved login.
 *
 * @throws {CliError} when either is missing, saying how to log in.
 */
export function resolveCredentials(
  env: Readonly<Record<string, string | undefined>>,
  saved: SavedConfig | undefined,
): Credentials {
  const envUrl = nonEmpty(env.LOCKBOX_URL);
  const envToken = nonEmpty(env.LOCKBOX_TOKEN);
  const url = envUrl ?? saved?.url;
  const token = envToken ?? saved?.token;
  if (envUrl !== undefined) checkBaseUrl(envUrl);
  // The saved token was given for the saved server: a LOCKBOX_URL left in a shell (a typo, another
  // set-up's) must not receive it.
  if (
    envUrl !== undefined &&
    envToken === undefined &&
    saved !== undefined &&
    !sameServer(envUrl, saved.url)
  ) {
    throw new UsageError(
      `LOCKBOX_URL (${envUrl}) is not the server of your login (${saved.url}), and the saved token goes only to that server: set LOCKBOX_TOKEN for ${envUrl}, run lockbox auth:login --url ${envUrl}, or unset LOCKBOX_URL.`,
    );
  }
  if (url === undefined || token === undefined) {
    const missing = url === undefined ? "server" : "token";
    throw new CliError(
      `No Lockbox ${missing} is configured: run lockbox auth:login (or set LOCKBOX_URL and LOCKBOX_TOKEN).`,
    );
  }
  return {
    url,
    token,
    urlSource: envUrl !== undefined ? "LOCKBOX_URL" : "config",
    tokenSource: envToken !== undefined ? "LOCKBOX_TOKEN" : "config",
  };
}

/** Refuses a `LOCKBOX_URL` that names the API's `/v1` path where the server's base URL goes. */
function checkBaseUrl(text: string): void {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return; // The client names a malformed URL itself.
  }
  if (/\/v1\/?$/.test(url.pathname)) {
    const base = `${url.origin}${url.pathname.replace(/\/v1\/?$/, "")}`;
    throw new UsageError(
      `LOCKBOX_URL (${text}) ends with /v1: give the server's base URL, ${base} (the CLI adds /v1).`,
    );
  }
}

/** Whether two base URLs name the same server (scheme, host, port and path; a final slash aside). */
function sameServer(a: string, b: string): boolean {
  const base = (text: string) => {
    try {
      const url = new URL(text);
      return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
    } catch {
      return text.replace(/\/+$/, "");
    }
  };
  return base(a) === base(b);
}

function nonEmpty(text: string | undefined): string | undefined {
  const trimmed = text?.trim();
  return trimmed === undefined || trimmed === "" ? undefined : trimmed;
}
