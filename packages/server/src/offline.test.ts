import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SYSTEM_CONTEXT } from "./audit/request-context.js";
import { createLockbox } from "./lockbox.js";
import { adminTokenOffline, rotateKeysOffline } from "./offline.js";
import { testCaller } from "./testing/test-lockbox.js";
import { bootstrapAdmin } from "./tokens/bootstrap.js";
import { parseTokenKind } from "./tokens/token-format.js";

/** The offline commands on an embedded store, as `lockbox admin:token` and `lockbox keys:rotate` run them. */
describe("offline commands on SQLite", () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A store made by a server's first start: `master.key` created beside it, an admin, one org secret. */
  const embeddedStore = async () => {
    dir = mkdtempSync(join(tmpdir(), "lockbox-offline-"));
    const db = join(dir, "data", "lockbox.db");
    const lockbox = await createLockbox({ db, env: {}, server: true });
    await bootstrapAdmin(SYSTEM_CONTEXT, lockbox.stores);
    const admin = await testCaller(lockbox, { admin: true });
    await lockbox.orgs.createOrg(admin, "acme");
    await lockbox.secrets.setOrgSecret(admin, "acme", { name: "API_KEY", value: "v1", scopes: "web,user" });
    await lockbox.close();
    return db;
  };

  it("admin:token mints a user token for the platform admin without a master key", async () => {
    const db = await embeddedStore();
    const token = await adminTokenOffline(db);
    expect(parseTokenKind(token)).toBe("user");
    const lockbox = await createLockbox({ db, env: {} });
    try {
      const caller = await lockbox.tokens.authenticateUser(token);
      expect(caller.user).toMatchObject({ email: "admin@localhost", isAdmin: true });
    } finally {
      await lockbox.close();
    }
  });

  it("keys:rotate reads the master.key beside the database, names it in the next step, and the new key alone then opens every value", async () => {
    const db = await embeddedStore();
    const newKey = randomBytes(32).toString("base64");
    const newKeyFile = join(dir, "new.key");
    writeFileSync(newKeyFile, `${newKey}\n`, { mode: 0o600 });
    const result = await rotateKeysOffline({ db, env: {}, newMasterKeyFile: newKeyFile });
    expect(result.rewrapped).toBe(1);
    expect(result.next).toContain(join(dir, "data", "master.key"));
    const reopened = await createLockbox({ db, env: { LOCKBOX_MASTER_KEY: newKey } });
    try {
      const admin = await testCaller(reopened, { admin: true });
      expect((await reopened.secrets.listOrgSecrets(admin, "acme")).map((r) => r.value)).toEqual(["v1"]);
    } finally {
      await reopened.close();
    }
    await expect(createLockbox({ db, env: {} })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });

  it("keys:rotate to a new key written over master.key itself says to restart, not to replace it with itself", async () => {
    const db = await embeddedStore();
    const keyFile = join(dir, "data", "master.key");
    const oldKey = readFileSync(keyFile, "utf8").trim();
    writeFileSync(keyFile, randomBytes(32).toString("base64"), { mode: 0o600 });
    const result = await rotateKeysOffline({
      db,
      env: { LOCKBOX_PREVIOUS_MASTER_KEYS: oldKey },
      masterKeyFile: undefined,
      newMasterKeyFile: keyFile,
    });
    expect(result.next).toBe(
      `Next: restart the server (its key file '${keyFile}' holds the new key), without LOCKBOX_PREVIOUS_MASTER_KEYS (start-up checks that every data key is wrapped by a loaded key).`,
    );
  });

  it("keys:rotate names --new-master-key-file when the new key file does not exist", async () => {
    const db = await embeddedStore();
    const missing = join(dir, "no-such.key");
    await expect(rotateKeysOffline({ db, env: {}, newMasterKeyFile: missing })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
      message: `Master key file '${missing}' does not exist: check the path given to --new-master-key-file.`,
    });
  });

  it("keys:rotate with the current key in LOCKBOX_MASTER_KEY says to change the variable, not a file", async () => {
    const db = await embeddedStore();
    const current = readFileSync(join(dir, "data", "master.key"), "utf8").trim();
    const newKeyFile = join(dir, "new.key");
    writeFileSync(newKeyFile, randomBytes(32).toString("base64"), { mode: 0o600 });
    const result = await rotateKeysOffline({
      db,
      env: { LOCKBOX_MASTER_KEY: current },
      newMasterKeyFile: newKeyFile,
    });
    expect(result.next).toContain("LOCKBOX_MASTER_KEY");
    expect(result.next).not.toContain("master.key");
  });

  it("keys:rotate with --master-key-file names that file and the new one in the next step, not master.key", async () => {
    const db = await embeddedStore();
    const oldKeyFile = join(dir, "old.key");
    writeFileSync(oldKeyFile, readFileSync(join(dir, "data", "master.key")), { mode: 0o600 });
    const newKeyFile = join(dir, "new.key");
    writeFileSync(newKeyFile, randomBytes(32).toString("base64"), { mode: 0o600 });
    const result = await rotateKeysOffline({
      db,
      env: {},
      masterKeyFile: oldKeyFile,
      newMasterKeyFile: newKeyFile,
    });
    expect(result.next).toContain(`--master-key-file='${newKeyFile}'`);
    expect(result.next).toContain(oldKeyFile);
    expect(result.next).not.toContain("master.key");
    expect(result.next).toContain("without LOCKBOX_PREVIOUS_MASTER_KEYS");
  });
});
