import {
  emailSchema,
  environmentNameSchema,
  isLockboxError,
  parseScopes,
  parseSiteEnv,
  quoteIdentifier,
  type Scope,
} from "@lockbox/core";
import { UsageError } from "./errors.js";

/** Added when an org or site argument holds an email: the arguments were given in the wrong order. */
export const EMAIL_IN_PLACE_OF_NAME =
  "That looks like an email address: check the order of the arguments (the organization or site comes first, then the email).";

/** A `<site>[.<env>]` argument, split and checked. */
export interface SiteTarget {
  readonly site: string;
  readonly env: string | undefined;
}

/**
 * Parses a `<site>` or `<site>.<env>` argument with the domain's rules. `env` says whether the
 * command needs an environment (`required`), takes none (`forbidden`) or either (`optional`).
 *
 * @throws {UsageError} when the argument is malformed or has or lacks the environment wrongly.
 */
export function parseSiteArg(arg: string, env: "required" | "optional" | "forbidden"): SiteTarget {
  let target: SiteTarget;
  try {
    target = parseSiteEnv(arg);
  } catch (error) {
    if (isLockboxError(error)) {
      // `alice@example.com` would be refused as the site `alice@example` in environment `com`.
      if (emailSchema.safeParse(arg).success) {
        throw new UsageError(`Invalid site name ${quoteIdentifier(arg)}. ${EMAIL_IN_PLACE_OF_NAME}`);
      }
      throw new UsageError(error.message);
    }
    throw error;
  }
  if (env === "required" && target.env === undefined) {
    throw new UsageError(
      `Missing environment in '${arg}': use <site>.<env>, for example ${target.site}.dev.`,
    );
  }
  if (env === "forbidden" && target.env !== undefined) {
    throw new UsageError(
      `This command takes a site, not an environment: use '${target.site}' instead of '${arg}'.`,
    );
  }
  return target;
}

/**
 * Checks an `--env` option (an environment name: dev, test, live or a multidev name).
 *
 * @throws {UsageError} with the rule's message.
 */
export function parseEnvOption(env: string): string {
  const result = environmentNameSchema.safeParse(env);
  if (result.success) return result.data;
  throw new UsageError(result.error.issues[0]?.message ?? `Invalid environment name '${env}'.`);
}

/**
 * Parses a `--scope` list (`"web, user"`): blanks and duplicates ignored, canonical order.
 *
 * @throws {UsageError} for an unknown scope or an empty list.
 */
export function parseScopeOption(text: string): Scope[] {
  try {
    return parseScopes(text);
  } catch (error) {
    if (isLockboxError(error)) throw new UsageError(error.message);
    throw error;
  }
}

/**
 * Parses a positive integer option such as `--limit`.
 *
 * @throws {UsageError} naming the option and the allowed range.
 */
export function parsePositiveInteger(text: string, option: string, max: number): number {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new UsageError(`Invalid ${option} '${text}': use a whole number from 1 to ${max}.`);
  }
  return value;
}
