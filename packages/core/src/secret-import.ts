import { z } from "zod";

/*
 * The wire shapes of a bulk import (`POST /v1/sites/:site/secrets/import`, `POST
 * /v1/orgs/:org/secrets/import`, docs/api.md): a whole `.env` or JSON file set in one transaction,
 * or nothing. Kept apart from api.ts, as the rest of the management API's shapes are there.
 */

/** How many secrets one import may hold: a file far larger than any `.env` seen, still one bounded transaction. */
export const MAX_IMPORT_ENTRIES = 1000;

/** What an import does with one entry: `refused` entries carry the reason and stop the whole import. */
export const IMPORT_ACTIONS = ["create", "update", "unchanged", "refused"] as const;
export type ImportAction = (typeof IMPORT_ACTIONS)[number];

/** Bounded, without NUL, as every identifier of api.ts (PostgreSQL refuses NUL in text). */
const text = (max = 512) =>
  z
    .string()
    .max(max)
    .refine((s) => !s.includes("\u0000"), "must not contain the NUL character");

/**
 * The import request: the secrets by name, and as for a set the type and scopes of the new ones
 * (existing ones must match) and, with `env`, overrides instead of base values. Names, values, type
 * and scopes are the domain's to check, entry by entry, in the plan. `dryRun` plans without writing.
 */
export const importSecretsBody = z
  .object({
    env: text().optional(),
    type: text().optional(),
    scopes: z.union([text(), z.array(text()).max(16)]).optional(),
    dryRun: z.boolean().optional(),
    secrets: z
      .preprocess(
        (secrets, context) => {
          // zod drops a JSON object's own `__proto__` key from a record: refused rather than lost.
          if (typeof secrets === "object" && secrets !== null && Object.hasOwn(secrets, "__proto__")) {
            context.addIssue({
              code: "custom",
              message: "cannot import '__proto__': set it with secret:set",
            });
          }
          return secrets;
        },
        z.record(text(1024), z.string()),
      )
      .refine(
        (secrets) => Object.keys(secrets).length <= MAX_IMPORT_ENTRIES,
        `holds more than ${MAX_IMPORT_ENTRIES} secrets: split the file and import each part`,
      ),
  })
  .strict();
/** An {@link importSecretsBody} as a client sends it. */
export type ImportSecretsBody = z.input<typeof importSecretsBody>;

/** One entry of the plan, in name order. `reason` says why an entry is refused (never with its value). */
export const importPlanEntry = z.object({
  name: z.string(),
  action: z.enum(IMPORT_ACTIONS),
  reason: z.string().optional(),
});
export type ImportPlanEntry = z.output<typeof importPlanEntry>;

/**
 * The answer: the plan, and whether it was applied (false for a dry run, and whenever an entry is
 * refused: then nothing was written). `notes` are the set's notes worth telling once.
 */
export const importSecretsResponse = z.object({
  plan: z.array(importPlanEntry),
  applied: z.boolean(),
  notes: z.array(z.string()),
});
export type ImportSecretsResponse = z.output<typeof importSecretsResponse>;
