import { z } from "zod";

/*
 * Wire shapes of the web dashboard's sign-in (`POST /v1/ui/links`, `POST /v1/ui/sessions`), as
 * core/api.ts writes the others. The session itself is a `createdTokenResponse`.
 */

/** `POST /v1/ui/links`: a one-time sign-in link's secret, shown once, valid until `expiresAt`. */
export const signinLinkResponse = z.object({
  secret: z.string().describe("The link's secret (lbs_…), shown once: the dashboard takes it after '#'."),
  expiresAt: z.string(),
});
/** A {@link signinLinkResponse}. */
export type SigninLinkResponse = z.output<typeof signinLinkResponse>;

/** `POST /v1/ui/sessions`: the secret of a link, exchanged once for a dashboard session. */
export const signinExchangeBody = z
  .object({ secret: z.string().max(200).describe("The secret of a link from POST /v1/ui/links.") })
  .strict();
/** Parsed {@link signinExchangeBody}. */
export type SigninExchangeBody = z.output<typeof signinExchangeBody>;
