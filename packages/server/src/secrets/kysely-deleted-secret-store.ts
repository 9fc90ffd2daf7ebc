import type { OwnerRef, SecretType } from "@lockbox/core";
import type { Selectable } from "kysely";
import type { Database } from "../db/database.js";
import { type KyselyContext, now } from "../db/lockbox-db.js";
import type { DeletedSecret, DeletedSecretStore, NewDeletedSecret } from "./deleted-secret-store.js";
import { ownerOfRow, parseStoredScopes, storedScopes } from "./kysely-secret-store.js";

const USER_ACTOR = "user:";

/** {@link DeletedSecretStore} over Kysely. */
export class KyselyDeletedSecretStore implements DeletedSecretStore {
  constructor(private readonly context: KyselyContext) {}

  async insertDeleted(secret: NewDeletedSecret): Promise<void> {
    const row = {
      secret_id: secret.secretId,
      org_id: secret.owner.kind === "org" ? secret.owner.id : null,
      site_id: secret.owner.kind === "site" ? secret.owner.id : null,
      name: secret.name,
      type: secret.type,
      scopes: storedScopes(secret.scopes),
      envs: JSON.stringify(secret.envs),
      created_at: secret.createdAt,
      deleted_at: now(),
      deleted_by: secret.deletedBy,
    };
    await this.context.write(`keep deleted secret '${secret.name}'`, () =>
      this.context.db.insertInto("deleted_secrets").values(row).execute(),
    );
  }

  listDeleted(owner: OwnerRef): Promise<DeletedSecret[]> {
    return this.#select(owner);
  }

  findDeleted(owner: OwnerRef, name: string): Promise<DeletedSecret[]> {
    return this.#select(owner, name);
  }

  async removeDeleted(secretId: string): Promise<boolean> {
    const result = await this.context.db
      .deleteFrom("deleted_secrets")
      .where("secret_id", "=", secretId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async #select(owner: OwnerRef, name?: string): Promise<DeletedSecret[]> {
    const { db } = this.context;
    let query = db
      .selectFrom("deleted_secrets")
      .selectAll()
      .where(owner.kind === "org" ? "org_id" : "site_id", "=", owner.id);
    if (name !== undefined) query = query.where("name", "=", name);
    const rows = await query.orderBy("name").orderBy("deleted_at", "desc").orderBy("secret_id").execute();
    const userIds = [
      ...new Set(
        rows
          .filter((r) => r.deleted_by.startsWith(USER_ACTOR))
          .map((r) => r.deleted_by.slice(USER_ACTOR.length)),
      ),
    ];
    const users =
      userIds.length === 0
        ? []
        : await db.selectFrom("users").select(["id", "email"]).where("id", "in", userIds).execute();
    const emails = new Map(users.map((u) => [`${USER_ACTOR}${u.id}`, u.email]));
    return rows.map((r) => toDeleted(r, emails.get(r.deleted_by)));
  }
}

function toDeleted(r: Selectable<Database["deleted_secrets"]>, email: string | undefined): DeletedSecret {
  return {
    secretId: r.secret_id,
    owner: ownerOfRow(r),
    name: r.name,
    type: r.type as SecretType,
    scopes: parseStoredScopes(r.scopes),
    envs: JSON.parse(r.envs) as string[],
    createdAt: r.created_at,
    deletedBy: r.deleted_by,
    deletedAt: r.deleted_at,
    deletedByEmail: email,
  };
}
