import { z } from "zod";
import { LockboxError } from "./errors.js";
import { isDnsHostname } from "./host.js";
import { quoteIdentifier } from "./quote-identifier.js";

/** The environments every site has. Test and live never run builds (see {@link isBuildEnvironment}). */
export const STANDARD_ENVIRONMENTS = ["dev", "test", "live"] as const;

/** One of {@link STANDARD_ENVIRONMENTS}. */
export type StandardEnvironment = (typeof STANDARD_ENVIRONMENTS)[number];

/** Names a multidev can never take (they collide with the platform's own paths and environments). */
export const RESERVED_MULTIDEV_NAMES = [
  "dev",
  "test",
  "live",
  "default",
  "settings",
  "team",
  "support",
  "multidev",
  "debug",
  "files",
  "tags",
  "billing",
] as const;

/** Longest email address accepted (RFC 5321 path limit). */
export const MAX_EMAIL_LENGTH = 254;

/** True when `env` is `dev`, `test` or `live`. */
export function isStandardEnvironment(env: string): env is StandardEnvironment {
  return (STANDARD_ENVIRONMENTS as readonly string[]).includes(env);
}

/**
 * True when builds may run in `env`: `dev` or a multidev, never `test` or `live`.
 * Does not check that `env` is a valid name.
 */
export function isBuildEnvironment(env: string): boolean {
  return env !== "test" && env !== "live";
}

const ENTITY_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const MULTIDEV_NAME = /^[a-z0-9][a-z0-9-]{0,10}$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** True when `text` has the form of a UUID (8-4-4-4-12 hex digits, any case, any version). */
export function isUuid(text: string): boolean {
  return UUID.test(text);
}

/**
 * A string schema whose single rule is `problem`, which answers the message for a refused input
 * or `undefined`. `what` names the field when the input is not a string at all.
 */
function ruleSchema(what: string, problem: (text: string) => string | undefined) {
  return z.string({ error: `${what} must be a string.` }).superRefine((text, ctx) => {
    const message = problem(text);
    if (message !== undefined) ctx.addIssue({ code: "custom", message, input: text });
  });
}

function entityNameProblem(label: string, text: string): string | undefined {
  if (!ENTITY_NAME.test(text)) {
    return `Invalid ${label} name ${quoteIdentifier(text)}: use 1-63 lowercase letters, digits and hyphens, starting with a letter or digit.`;
  }
  // Commands accept a name or a UUID, so a name shaped like a UUID would be ambiguous.
  if (isUuid(text)) {
    return `Invalid ${label} name ${quoteIdentifier(text)}: a name cannot have the form of a UUID, because commands accept either.`;
  }
  return undefined;
}

function multidevNameProblem(text: string): string | undefined {
  if ((RESERVED_MULTIDEV_NAMES as readonly string[]).includes(text)) {
    return `${quoteIdentifier(text)} is a reserved name and cannot be used for a multidev.`;
  }
  if (!MULTIDEV_NAME.test(text)) {
    return `Invalid multidev name ${quoteIdentifier(text)}: use 1-11 lowercase letters, digits and hyphens, starting with a letter or digit.`;
  }
  return undefined;
}

function environmentNameProblem(text: string): string | undefined {
  if (isStandardEnvironment(text)) return undefined;
  if ((RESERVED_MULTIDEV_NAMES as readonly string[]).includes(text)) {
    return `${quoteIdentifier(text)} is a reserved name and cannot be used for an environment.`;
  }
  if (!MULTIDEV_NAME.test(text)) {
    return `Invalid environment name ${quoteIdentifier(text)}: use dev, test, live or a multidev name of 1-11 lowercase letters, digits and hyphens, starting with a letter or digit.`;
  }
  return undefined;
}

/**
 * An organization name: `^[a-z0-9][a-z0-9-]{0,62}$`, and not shaped like a UUID (commands accept a
 * name or a UUID). Refusals carry one issue whose message names the rule, e.g.
 * `Invalid organization name 'My Org': use 1-63 lowercase letters, digits and hyphens, starting with a letter or digit.`
 */
export const orgNameSchema = ruleSchema("An organization name", (text) =>
  entityNameProblem("organization", text),
);

/** A site name: the same rule as {@link orgNameSchema}, with `site` in the message. */
export const siteNameSchema = ruleSchema("A site name", (text) => entityNameProblem("site", text));

/**
 * A multidev name: `^[a-z0-9][a-z0-9-]{0,10}$` and not one of {@link RESERVED_MULTIDEV_NAMES}
 * (`'settings' is a reserved name and cannot be used for a multidev.`).
 */
export const multidevNameSchema = ruleSchema("A multidev name", multidevNameProblem);

/**
 * An environment name: `dev`, `test`, `live` or a valid multidev name. Says nothing about whether a
 * given site has that environment.
 */
export const environmentNameSchema = ruleSchema("An environment name", environmentNameProblem);

/**
 * An email address, trimmed and lowercased (users are looked up by lowercased email), at most 254
 * characters: a local part of 1–64 printable characters without spaces or `@`, and a DNS host name
 * as domain. A single-label domain is accepted, because the bootstrap admin is `admin@localhost`;
 * non-ASCII local parts are not.
 */
export const emailSchema = z
  .string({ error: "An email address must be a string." })
  .trim()
  .toLowerCase()
  .superRefine((text, ctx) => {
    const at = text.lastIndexOf("@");
    const local = text.slice(0, at);
    const domain = text.slice(at + 1);
    const valid =
      text.length <= MAX_EMAIL_LENGTH &&
      at > 0 &&
      local.length <= 64 &&
      /^[\x21-\x3f\x41-\x7e]+$/.test(local) &&
      isDnsHostname(domain);
    if (!valid) {
      ctx.addIssue({
        code: "custom",
        input: text,
        message: `Invalid email address ${quoteIdentifier(text)}: use the form name@example.com, at most ${MAX_EMAIL_LENGTH} characters.`,
      });
    }
  });

/**
 * A UUID in the 8-4-4-4-12 hex form, any version, normalized to lower case (the form every id is
 * stored in). Refusal: `Invalid UUID 'x'.`
 */
export const uuidSchema = ruleSchema("A UUID", (text) =>
  isUuid(text)
    ? undefined
    : `Invalid UUID ${quoteIdentifier(text)}: use the form 123e4567-e89b-12d3-a456-426614174000.`,
).toLowerCase();

/** A `<site>[.<env>]` command argument, split. */
export interface SiteEnv {
  /** A site name, or a site UUID in lower case. */
  readonly site: string;
  /** The environment name, or `undefined` when the argument has no `.<env>`. */
  readonly env: string | undefined;
}

/**
 * Splits a `<site>` or `<site>.<env>` argument at its first dot (site names have none) and checks
 * both parts: the site must be a valid site name or a UUID, the environment a valid environment name.
 * Does not check that either exists.
 *
 * @throws {LockboxError} `VALIDATION_FAILED` when a part is invalid or the argument ends in a dot,
 * with the message of the failed rule.
 */
export function parseSiteEnv(arg: string): SiteEnv {
  const dot = arg.indexOf(".");
  const sitePart = dot === -1 ? arg : arg.slice(0, dot);
  const envPart = dot === -1 ? undefined : arg.slice(dot + 1);
  const site = isUuid(sitePart) ? sitePart.toLowerCase() : parseOrThrow(siteNameSchema, sitePart);
  if (envPart === "") {
    throw new LockboxError(
      "VALIDATION_FAILED",
      `Missing environment in ${quoteIdentifier(arg)}: use <site>.<env>, for example my-site.dev, or just <site>.`,
    );
  }
  const env = envPart === undefined ? undefined : parseOrThrow(environmentNameSchema, envPart);
  return { site, env };
}

function parseOrThrow(schema: z.ZodType<string, string>, text: string): string {
  const result = schema.safeParse(text);
  if (result.success) return result.data;
  throw new LockboxError("VALIDATION_FAILED", result.error.issues[0]?.message ?? "Invalid name.");
}
