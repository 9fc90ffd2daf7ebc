import type { SecretVersionAction } from "@lockbox/core";
import { type KyselyContext, now } from "../db/lockbox-db.js";
import type {
  NewSecretVersion,
  SecretVersionStore,
  StoredSecretVersion,
  VersionPage,
} from "./secret-version-store.js";

/** The `env` of a secret's base value, as in `secret_values`. */
const BASE_ENV = "";
const USER_ACTOR = "user:";
const MAX_VERSION = 2 ** 31 - 1;

/** {@link SecretVersionStore} over Kysely. */
export class KyselySecretVersionStore implements SecretVersionStore {
  constructor(private readonly context: KyselyContext) {}

  async lastVersion(secretId: string, env: string | null): Promise<number> {
    const row = await this.context.db
      .selectFrom("secret_versions")
      .select((eb) => eb.fn.max("version").as("last"))
      .where("secret_id", "=", secretId)
      .where("env", "=", env ?? BASE_ENV)
      .executeTakeFirst();
    return Number(row?.last ?? 0);
  }

  async insertVersion(v: NewSecretVersion): Promise<void> {
    const row = {
      secret_id: v.secretId,
      env: v.env ?? BASE_ENV,
      version: v.version,
      org_id: v.owner.kind === "org" ? v.owner.id : null,
      site_id: v.owner.kind === "site" ? v.owner.id : null,
      name: v.name,
      action: v.action,
      ciphertext: v.sealed,
      actor: v.actor,
      at: now(),
    };
    await this.context.write("record the version", () =>
      this.context.db.insertInto("secret_versions").values(row).execute(),
    );
  }

  async findVersion(
    secretId: string,
    env: string | null,
    version: number,
  ): Promise<StoredSecretVersion | undefined> {
    const rows = await this.#select(secretId, env, { limit: 1, beforeVersion: version + 1 });
    return rows[0]?.version === version ? rows[0] : undefined;
  }

  async latestValue(secretId: string, env: string | null): Promise<StoredSecretVersion | undefined> {
    const row = await this.context.db
      .selectFrom("secret_versions")
      .select((eb) => eb.fn.max("version").as("last"))
      .where("secret_id", "=", secretId)
      .where("env", "=", env ?? BASE_ENV)
      .where("ciphertext", "is not", null)
      .executeTakeFirst();
    const last = row?.last;
    return last === null || last === undefined ? undefined : this.findVersion(secretId, env, Number(last));
  }

  listVersions(secretId: string, env: string | null, page: VersionPage): Promise<StoredSecretVersion[]> {
    return this.#select(secretId, env, page);
  }

  async #select(secretId: string, env: string | null, page: VersionPage): Promise<StoredSecretVersion[]> {
    let query = this.context.db
      .selectFrom("secret_versions")
      .select(["secret_id", "env", "version", "action", "ciphertext", "actor", "at"])
      .where("secret_id", "=", secretId)
      .where("env", "=", env ?? BASE_ENV);
    // Versions are 32-bit integers: a larger cursor means "from the newest" (PostgreSQL would refuse it).
    if (page.beforeVersion !== undefined) {
      query = query.where("version", "<", Math.min(page.beforeVersion, MAX_VERSION));
    }
    const rows = await query.orderBy("version", "desc").limit(page.limit).execute();
    const userIds = [
      ...new Set(
        rows.filter((r) => r.actor.startsWith(USER_ACTOR)).map((r) => r.actor.slice(USER_ACTOR.length)),
      ),
    ];
    const users =
      userIds.length === 0
        ? []
        : await this.context.db
            .selectFrom("users")
            .select(["id", "email"])
            .where("id", "in", userIds)
            .execute();
    const emails = new Map(users.map((u) => [`${USER_ACTOR}${u.id}`, u.email]));
    return rows.map((r) => ({
      secretId: r.secret_id,
      env: r.env === BASE_ENV ? null : r.env,
      version: Number(r.version),
      action: r.action as SecretVersionAction,
      sealed: r.ciphertext,
      actor: r.actor,
      actorEmail: emails.get(r.actor),
      at: r.at,
    }));
  }
}
