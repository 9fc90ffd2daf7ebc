import { existsSync, constants as fs } from "node:fs";
import { open } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { parseSiteArg } from "../arguments.js";
import { withExamples } from "../command-helpers.js";
import type { CliContext } from "../context.js";
import { CliError } from "../errors.js";

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
        const replaced = existsSync(options.filepath);
        try {
          await writeOwnerOnly(resolve(options.filepath), `${JSON.stringify(file, null, 2)}\n`);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
          throw new CliError(
            `Cannot write ${options.filepath} (${code}): check that its folder exists and is writable, or choose another --filepath.`,
          );
        }
        context.info(
          `Secrets file written to: ${options.filepath}. Please review this file and adjust accordingly for your local usage.`,
        );
        // As the seed product's command, it writes over the file; it says so, as edits there are gone.
        if (replaced)
          context.warn(`${options.filepath} was there already: it was replaced, with any edits made to it.`);
      }),
    [
      "lockbox secret:site:local-generate my-site",
      "lockbox secret:site:local-generate my-site --filepath=./.lockbox/secrets.json",
      "LOCKBOX_SECRETS_FILE=./secrets.json LOCKBOX_ENV=dev node app.js",
    ],
  );
}

/**
 * Writes `text` to a file only its owner can read: created 0600, or an existing file narrowed to
 * 0600 first, and emptied only then (a file that cannot be narrowed is left as it was).
 */
async function writeOwnerOnly(path: string, text: string): Promise<void> {
  const handle = await open(path, fs.O_WRONLY | fs.O_CREAT, 0o600);
  try {
    await handle.chmod(0o600);
    await handle.truncate(0);
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}
