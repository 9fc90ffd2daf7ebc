/**
 * The local development file of SPEC §3, written by `lockbox secret:site:local-generate`:
 * `{"EntityType": "sites", "EntityId": uuid,
 *   "Secrets": {name: {"Type", "Value", "Scopes", "EnvValues", "OrgValues"}}}`.
 * Parsing and resolution only, no I/O: the runtime client reads the file and watches its mtime.
 */

/** One secret of a local secrets file; `null` is a redacted (or blanked) value and counts as absent. */
export interface ParsedLocalSecret {
  /** The site's base value, or the org's for an inherited row. */
  readonly value: string | null;
  /** The site's overrides: environment name → value. */
  readonly envValues: ReadonlyMap<string, string | null>;
  /** The owner org's values: `default` → its base value, environment name → its override. */
  readonly orgValues: ReadonlyMap<string, string | null>;
  /** `org` for a row the site inherits from its org (`Owner`); a file without `Owner` means `site`. */
  readonly owner?: "site" | "org" | undefined;
  /** The row's secret's scopes (`Scopes`; an inherited row's are the org's); absent means readable. */
  readonly scopes?: readonly string[] | undefined;
  /** The org's same-named secret's scopes, on a site row (`OrgScopes`); absent means readable. */
  readonly orgScopes?: readonly string[] | undefined;
}

/** A parsed local secrets file. Only the fields resolution needs are kept. */
export interface ParsedLocalSecretsFile {
  readonly secrets: ReadonlyMap<string, ParsedLocalSecret>;
}

/**
 * What {@link parseLocalSecrets} answers: the file, or a `problem` written for the developer that
 * names the offending secret and field but never holds a value.
 */
export type LocalSecretsParseResult =
  | { readonly ok: true; readonly file: ParsedLocalSecretsFile }
  | { readonly ok: false; readonly problem: string };

/**
 * Parses the text of a local secrets file. The text is untrusted: every map becomes a `Map` (a
 * secret named `__proto__` is an ordinary name), and anything of the wrong shape is refused.
 * Only `Secrets` and each secret's object are required, so a hand-written file or one from the seed
 * product's `CUSTOMER_SECRETS_FAKE_FILE` (`{"Secrets": {name: {"Value"}}}`) works: a missing `Owner`
 * means the site's own row, missing `Scopes`/`OrgScopes` mean readable by the application.
 *
 * @returns `{ok: true, file}`, or `{ok: false, problem}` for text that is not JSON or not of that
 * shape, e.g. `Secrets["API_KEY"].EnvValues["live"] must be a string or null, not a number`.
 *
 * @example
 * ```ts
 * const parsed = parseLocalSecrets(await readFile("secrets.json", "utf8"));
 * if (!parsed.ok) throw new Error(`secrets.json: ${parsed.problem}`);
 * const values = resolveLocalSecrets(parsed.file, "dev");
 * ```
 */
export function parseLocalSecrets(text: string): LocalSecretsParseResult {
  // A byte order mark, as some editors write, is not JSON but says nothing wrong about the file.
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    // The parser's own message may quote the text around the error, which can be a value.
    return { ok: false, problem: `it is not valid JSON${jsonErrorPosition(body, error)}` };
  }
  if (!isObject(json)) {
    return { ok: false, problem: `it must hold a JSON object with a "Secrets" object, not ${kind(json)}` };
  }
  const raw = json.Secrets;
  if (!isObject(raw)) {
    return {
      ok: false,
      problem: `its "Secrets" field must be an object of secrets keyed by name, not ${kind(raw)}`,
    };
  }
  const secrets = new Map<string, ParsedLocalSecret>();
  for (const [name, entry] of Object.entries(raw)) {
    const where = `Secrets[${quote(name)}]`;
    if (!isObject(entry)) return { ok: false, problem: `${where} must be an object, not ${kind(entry)}` };
    const value = entry.Value ?? null;
    if (value !== null && typeof value !== "string") {
      return { ok: false, problem: `${where}.Value must be a string or null, not ${kind(value)}` };
    }
    const envValues = valueMap(entry.EnvValues, `${where}.EnvValues`);
    if (typeof envValues === "string") return { ok: false, problem: envValues };
    const orgValues = valueMap(entry.OrgValues, `${where}.OrgValues`);
    if (typeof orgValues === "string") return { ok: false, problem: orgValues };
    const owner = entry.Owner ?? undefined;
    if (owner !== undefined && owner !== "site" && owner !== "org") {
      return { ok: false, problem: `${where}.Owner must be "site" or "org"` };
    }
    const scopes = scopeList(entry.Scopes, `${where}.Scopes`);
    if (typeof scopes === "string") return { ok: false, problem: scopes };
    const orgScopes = scopeList(entry.OrgScopes, `${where}.OrgScopes`);
    if (typeof orgScopes === "string") return { ok: false, problem: orgScopes };
    secrets.set(name, { value, envValues, orgValues, owner, scopes, orgScopes });
  }
  return { ok: true, file: { secrets } };
}

/**
 * The value of one local secret in environment `env`: what `GET /site/secrets` answers for it
 * (SPEC §2.4 with scope `web`, SPEC §3), applied to the file's row. Each side counts only when its
 * scopes include `web` (or are not in the file): the site's `EnvValues[env] ?? Value`, then the org's
 * `OrgValues[env] ?? OrgValues.default`. For a row inherited from the org (`Owner: "org"`, whose
 * `Value` is the org's base) that is `EnvValues[env] ?? OrgValues[env] ?? Value ?? OrgValues.default`.
 * `null` counts as absent; without `env` the environment steps are skipped.
 *
 * @returns the value, or `undefined` when every step is absent, `null` or unreadable.
 *
 * @example
 * ```ts
 * resolveLocalSecret({ value: "base", envValues: new Map([["live", "l"]]), orgValues: new Map() }, "live"); // "l"
 * ```
 */
export function resolveLocalSecret(secret: ParsedLocalSecret, env: string | undefined): string | undefined {
  const at = (map: ReadonlyMap<string, string | null>) =>
    env === undefined ? undefined : (map.get(env) ?? undefined);
  if (secret.owner === "org") {
    if (!webReadable(secret.scopes)) return undefined;
    return (
      at(secret.envValues) ??
      at(secret.orgValues) ??
      secret.value ??
      secret.orgValues.get("default") ??
      undefined
    );
  }
  const site = webReadable(secret.scopes) ? (at(secret.envValues) ?? secret.value ?? undefined) : undefined;
  if (site !== undefined || !webReadable(secret.orgScopes)) return site;
  return at(secret.orgValues) ?? secret.orgValues.get("default") ?? undefined;
}

/**
 * Every secret of a local file resolved for `env` (see {@link resolveLocalSecret}); names whose
 * value resolves to nothing are left out, as the server leaves out what a site cannot read.
 *
 * @example
 * ```ts
 * const values = resolveLocalSecrets(parsed.file, process.env.LOCKBOX_ENV);
 * values.get("DB_PASSWORD"); // string | undefined
 * ```
 */
export function resolveLocalSecrets(
  file: ParsedLocalSecretsFile,
  env: string | undefined,
): Map<string, string> {
  const resolved = new Map<string, string>();
  for (const [name, secret] of file.secrets) {
    const value = resolveLocalSecret(secret, env);
    if (value !== undefined) resolved.set(name, value);
  }
  return resolved;
}

/** A `{name: string | null}` map, absent or `null` meaning empty; a string is the problem. */
function valueMap(raw: unknown, where: string): Map<string, string | null> | string {
  const map = new Map<string, string | null>();
  if (raw === undefined || raw === null) return map;
  if (!isObject(raw)) return `${where} must be an object of values keyed by environment, not ${kind(raw)}`;
  for (const [key, value] of Object.entries(raw)) {
    if (value !== null && typeof value !== "string") {
      return `${where}[${quote(key)}] must be a string or null, not ${kind(value)}`;
    }
    map.set(key, value);
  }
  return map;
}

/** A `Scopes` list: absent or `null` is `undefined` (readable); a string is the problem. */
function scopeList(raw: unknown, where: string): readonly string[] | undefined | string {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw))
    return `${where} must be an array of scope names such as ["web", "user"], not ${kind(raw)}`;
  const wrong = raw.find((scope) => typeof scope !== "string");
  if (wrong !== undefined) return `${where} must hold scope names (strings), not ${kind(wrong)}`;
  return raw as string[];
}

/** Whether the application (scope `web`) reads a secret with these scopes; unknown scopes read. */
function webReadable(scopes: readonly string[] | undefined): boolean {
  return scopes === undefined || scopes.includes("web");
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Names the JSON kind of a value without showing it. */
function kind(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "missing";
  if (Array.isArray(value)) return "an array";
  const type = typeof value;
  return type === "object" ? "an object" : `a ${type}`;
}

/** A name for a message: JSON-quoted, and cut short so a huge key cannot flood it. */
function quote(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
}

/** ` (line L, column C)` when the parser said where it stopped, else nothing. */
function jsonErrorPosition(text: string, error: unknown): string {
  const match = error instanceof Error ? /at position (\d+)/.exec(error.message) : null;
  if (!match?.[1]) return "";
  const before = text.slice(0, Number(match[1]));
  const lines = before.split("\n");
  return ` (line ${lines.length}, column ${(lines.at(-1)?.length ?? 0) + 1})`;
}
