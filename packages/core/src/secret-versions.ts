import { z } from "zod";

/*
 * Wire shapes of a secret's history (`GET …/secrets/:name/versions`) and rollback
 * (`POST …/secrets/:name/rollback`), as core/api.ts writes the others: requests are checked for shape
 * only (400); the rules are the domain's (404, 409, 422).
 */

/** What a version records: a value set, a slot deleted, a rollback; `restore` brings a deleted secret back. */
export const SECRET_VERSION_ACTIONS = ["set", "delete", "rollback", "restore"] as const;
/** One of {@link SECRET_VERSION_ACTIONS}. */
export type SecretVersionAction = (typeof SECRET_VERSION_ACTIONS)[number];

const text = (max = 512) =>
  z
    .string()
    .max(max)
    .refine((s) => !s.includes("\u0000"), "must not contain the NUL character");

/**
 * `GET …/secrets/:name/versions?env=&limit=&before=&values=`: the versions of the base value (or of
 * the `env` override), newest first; `before` is the `next` of the previous page; `values=true`
 * includes the values the caller may read.
 */
export const secretVersionsQuery = z
  .object({
    env: text().optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
    before: z.coerce.number().int().min(1).optional(),
    values: z.enum(["true", "false"]).optional(),
  })
  .strict();
/** Parsed {@link secretVersionsQuery}. */
export type SecretVersionsQuery = z.output<typeof secretVersionsQuery>;

/**
 * One version of a value slot. `actor` is the email of who wrote it (its audit actor once the user
 * is gone); `value` is present only when values were asked for: `null` for a delete version or where
 * the secret's scopes redact it (no `user` scope).
 */
export const secretVersionRow = z.object({
  version: z.number().int(),
  at: z.string(),
  actor: z.string(),
  action: z.enum(SECRET_VERSION_ACTIONS),
  value: z.string().nullable().optional(),
});
/** A {@link secretVersionRow}. */
export type SecretVersionRow = z.output<typeof secretVersionRow>;

/** `POST …/secrets/:name/rollback`: make version `to` of the base value (or the `env` override) current. */
export const rollbackSecretBody = z
  .object({
    env: text().optional(),
    to: z
      .number()
      .int()
      .min(1)
      .max(2 ** 31 - 1),
  })
  .strict();
/** A {@link rollbackSecretBody} as a client sends it. */
export type RollbackSecretBody = z.input<typeof rollbackSecretBody>;

/** A rollback's answer: the new current version, and the one whose value it took. */
export const rollbackSecretResponse = z.object({
  message: z.string(),
  name: z.string(),
  env: z.string().nullable(),
  version: z.number().int(),
  from: z.number().int(),
});
/** A {@link rollbackSecretResponse}. */
export type RollbackSecretResponse = z.output<typeof rollbackSecretResponse>;

/** The server's message for a rollback. */
export const SECRET_ROLLED_BACK_MESSAGE = "Secret rolled back.";
