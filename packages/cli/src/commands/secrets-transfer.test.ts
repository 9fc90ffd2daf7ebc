import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../testing/test-io.js";
import { readImportFile } from "./secrets-transfer.js";

describe("readImportFile()", () => {
  const dir = mkdtempSync(join(tmpdir(), "lockbox-import-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  it("reads dotenv, dropping a leading byte-order mark that would hide the first line", async () => {
    expect(await readImportFile(file("a.env", "\uFEFFFIRST=1\nexport SECOND='two words' # c\n"))).toEqual({
      FIRST: "1",
      SECOND: "two words",
    });
  });

  it("reads JSON by extension or by a leading '{', and refuses values that are not strings, naming each", async () => {
    expect(await readImportFile(file("b.txt", '  {"A": "x"}'))).toEqual({ A: "x" });
    await expect(readImportFile(file("c.json", '{"A": 1, "B": "ok", "C": null, "D": {}}'))).rejects.toThrow(
      "these are not: A (number), C (null), D (object). Quote them.",
    );
    await expect(readImportFile(file("d.json", "[1]"))).rejects.toThrow("must hold a JSON object");
    await expect(readImportFile(file("e.json", "{oops"))).rejects.toThrow("is not valid JSON");
    await expect(readImportFile(join(dir, "missing.env"))).rejects.toThrow("Cannot read");
  });

  it("refuses a secret:site:local-generate file with a pointer to export, not 'Quote them'", async () => {
    const localFile = JSON.stringify({
      EntityType: "sites",
      EntityId: "0b6d3c1e-8f5a-4d2b-9c7e-1a2b3c4d5e6f",
      Secrets: {
        API_KEY: { Type: "runtime", Value: "x", Scopes: ["web", "user"], EnvValues: {}, OrgValues: {} },
      },
    });
    const refused = readImportFile(file("secrets.json", localFile));
    await expect(refused).rejects.toThrow("is a secrets file (as secret:site:local-generate writes");
    await expect(refused).rejects.toThrow("secret:site:export <site> --format=json");
    await expect(readImportFile(file("fake.json", '{"Secrets": {"A": {"Value": "x"}}}'))).rejects.toThrow(
      "is a secrets file",
    );
    // A secret that happens to be named Secrets, with a string value, still imports.
    expect(await readImportFile(file("named.json", '{"Secrets": "x"}'))).toEqual({ Secrets: "x" });
  });
});

describe("secret:site:export --help", () => {
  it("shows a shell form that stops when the export fails, not a bare eval of its output", async () => {
    const help = await runCli(["secret:site:export", "--help"]);
    expect(help.code).toBe(0);
    // `eval` of the empty output of a failed export succeeds: the shell would go on without values.
    expect(help.stdout).not.toMatch(/eval "\$\(lockbox/);
    expect(help.stdout).toContain(
      'lockbox_env="$(lockbox secret:site:export my-site.dev --format=shell)" || exit; eval "$lockbox_env"',
    );
  });
});
