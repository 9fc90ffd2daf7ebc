import { z } from "zod";
import { environmentNameSchema } from "./names.js";
import { quoteIdentifier } from "./quote-identifier.js";
import { scopesSchema } from "./scopes.js";
import { nameLengthProblem, secretTypeSchema, valueProblem } from "./secrets.js";

/*
 * Request shapes shared by the HTTP API and its clients. They check what holds whatever the secret's
 * type; the rules that depend on the type (which may be the stored one) are `validateSecretInput`'s.
 */

/**
 * A secret name in a request: 1–255 UTF-8 bytes. The rule of its type is checked by `validateSecretName`.
 */
export const secretNameSchema = z
  .string({ error: "A secret name must be a string." })
  .superRefine((name, ctx) => {
    const message = nameLengthProblem(name);
    if (message !== undefined) ctx.addIssue({ code: "custom", message, input: name });
  });

/**
 * A secret value in a request: valid Unicode, at most 16384 UTF-8 bytes, may be empty; the messages
 * are those of `validateSecretValue` and never contain the value. Type-specific value rules are
 * checked by `validateSecretValue`.
 */
export const secretValueSchema = z
  .string({ error: "A secret value must be a string." })
  .superRefine((value, ctx) => {
    // No `input` in the issue: it would carry the value into error reports.
    const message = valueProblem(value);
    if (message !== undefined) ctx.addIssue({ code: "custom", message });
  });

/**
 * The body of a secret set: `{name, value, type?, scopes?, env?}`. `scopes` is an array or a
 * comma-separated string, parsed into canonical order; `env` names an override's environment
 * (absent for the base value). Unknown fields are refused (`Unknown field 'x' …`), so a typo such as
 * `scope` cannot silently fall back to the defaults.
 */
export const setSecretRequestSchema = z.strictObject(
  {
    name: secretNameSchema,
    value: secretValueSchema,
    type: secretTypeSchema.optional(),
    scopes: scopesSchema.optional(),
    env: environmentNameSchema.optional(),
  },
  {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? `Unknown field ${issue.keys.map(quoteIdentifier).join(", ")}: a secret set takes name, value, type, scopes and env.`
        : undefined,
  },
);

/** A parsed {@link setSecretRequestSchema} body. */
export type SetSecretRequest = z.output<typeof setSecretRequestSchema>;
