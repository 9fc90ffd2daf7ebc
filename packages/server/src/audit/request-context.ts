/**
 * Who asks, for the audit log: `user:<uuid>`, `token:<id>` or `system`, and the request it came in.
 * Services record it on every event; they never record values.
 */
export interface RequestContext {
  readonly actor: string;
  readonly requestId?: string | null;
}

/** The context of work the server does by itself (bootstrap, migrations, rotation). */
export const SYSTEM_CONTEXT: RequestContext = { actor: "system" };
