import { z } from "zod";
import { secretTypeSchema } from "./secrets.js";
import { SCOPE_ORDER } from "./types.js";

/*
 * Wire shapes of deleted secrets (`GET …/deleted-secrets`) and their restore
 * (`POST …/secrets/:name/restore`), as core/api.ts writes the others.
 */

/**
 * One deleted secret, kept with its overrides and history for the retention period: its name, type
 * and scopes (`id` tells apart two deleted secrets of one name), the environments it had overrides in, when it was deleted and by whom (an email; the
 * audit actor once the user is gone). Never a value.
 */
export const deletedSecretRow = z.object({
  id: z.string(),
  name: z.string(),
  type: secretTypeSchema,
  scopes: z.array(z.enum(SCOPE_ORDER)),
  envs: z.array(z.string()),
  deletedAt: z.string(),
  deletedBy: z.string(),
});
/** A {@link deletedSecretRow}. */
export type DeletedSecretRow = z.output<typeof deletedSecretRow>;

/**
 * `POST …/secrets/:name/restore?id=` (no body): brings back the newest deleted secret of that name,
 * or with `id` the deleted secret of that id (as the deleted list shows it).
 */
export const restoreSecretQuery = z.object({ id: z.string().uuid().optional() }).strict();
/** Parsed {@link restoreSecretQuery}. */
export type RestoreSecretQuery = z.output<typeof restoreSecretQuery>;

/** A restore's answer: the secret as it is again, and the environments whose overrides came back. */
export const restoreSecretResponse = z.object({
  message: z.string(),
  name: z.string(),
  type: secretTypeSchema,
  scopes: z.array(z.enum(SCOPE_ORDER)),
  envs: z.array(z.string()),
  notes: z.array(z.string()),
});
/** A {@link restoreSecretResponse}. */
export type RestoreSecretResponse = z.output<typeof restoreSecretResponse>;

/** The server's message for a restore. */
export const SECRET_RESTORED_MESSAGE = "Secret restored.";
