import type { RequestContext } from "../audit/request-context.js";
import type { TokenRow } from "../tokens/records.js";
import type { UserRow } from "./records.js";

/**
 * A person acting through a user token: what every service operation on behalf of someone takes,
 * to decide access (SPEC §5) and to audit (`actor` is `user:<uuid>`).
 */
export interface Caller extends RequestContext {
  readonly user: UserRow;
  /** The user token of the request. */
  readonly token: TokenRow;
}

/** The caller of a request made by `user` with `token`. */
export function callerOf(user: UserRow, token: TokenRow, requestId?: string | null): Caller {
  return { actor: `user:${user.id}`, requestId: requestId ?? null, user, token };
}
