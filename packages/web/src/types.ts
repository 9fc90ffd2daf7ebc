/** The wire shapes the dashboard reads: core's own types (types only: none of core's code is bundled). */
export type {
  AuditEventResponse as AuditEvent,
  EnvironmentResponse as Environment,
  MemberResponse as Member,
  OrgResponse as Org,
  OrgSecretRow,
  ResolvedRow,
  SetSecretResponse,
  SiteInfoResponse as SiteInfo,
  SiteResponse as Site,
  SiteSecretRow,
  TokenResponse as TokenInfo,
} from "@lockbox/core";

/** A token just created: the token is in this answer only. */
export interface CreatedToken {
  readonly id: string;
  readonly kind: string;
  readonly token: string;
  readonly environment: string | null;
  readonly expiresAt: string | null;
}

export const SCOPES = ["ic", "web", "user"] as const;
export const SECRET_TYPES = ["runtime", "env", "composer"] as const;
