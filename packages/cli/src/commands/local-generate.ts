import { chmod, open } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { parseSiteArg } from "../arguments.js";
import { withExamples } from "../command-helpers.js";
import type { CliContext } from "../context.js";

/** Registers `secret:site:local-generate` (alias `secret:local-generate`), SPEC §3. */
export function registerLocalGenerateCommand(program: Command, context: CliContext): void {
  withExamples(
    program
      .command("secret:site:local-generate")
      .alias("secret:local-generate")
      .description(
        "Write the site's secrets to a file for local development (mode 0600), with the listing's redaction. Point LOCKBOX_SECRETS_FILE at it and getSecret() reads it instead of the server.",
      )
      .argument("<site>", "the site (name or UUID)")
      .option("--filepath <path>", "where to write the file", "./secrets.json")
      .action(async (siteArg: string, options: { filepath: string }) => {
        const { site } = parseSiteArg(siteArg, "forbidden");
        const client = await context.client();
        const file = await client.localSecrets(site);
        const path = resolve(options.filepath);
        // Created 0600, and narrowed to 0600 if it already existed with wider permissions.
        const handle = await open(path, "w", 0o600);
        try {
          await handle.writeFile(`${JSON.stringify(file, null, 2)}\n`);
        } finally {
          await handle.close();
        }
        await chmod(path, 0o600);
        context.info(
          `Secrets file written to: ${options.filepath}. Please review this file and adjust accordingly for your local usage.`,
        );
      }),
    [
      "lockbox secret:site:local-generate my-site",
      "lockbox secret:site:local-generate my-site --filepath=./.lockbox/secrets.json",
      "LOCKBOX_SECRETS_FILE=./secrets.json LOCKBOX_ENV=dev node app.js",
    ],
  );
}
