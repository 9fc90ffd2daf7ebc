import { isStandardEnvironment, multidevNameSchema } from "@lockbox/core";
import type { Environment } from "@lockbox/sdk";
import type { Command } from "commander";
import { parseSiteArg } from "../arguments.js";
import { confirmDestructive, formatOption, pick, withExamples } from "../command-helpers.js";
import type { CliContext } from "../context.js";
import { UsageError } from "../errors.js";
import { type ListFormat, printList } from "../output.js";

/**
 * The site and multidev of a `<site>.<env>` argument.
 *
 * @throws {UsageError} when the environment is a standard one or not a valid multidev name.
 */
function parseMultidevArg(arg: string, action: "create" | "delete"): { site: string; env: string } {
  const { site, env } = parseSiteArg(arg, "required");
  const name = env as string;
  if (isStandardEnvironment(name)) {
    throw new UsageError(
      `'${name}' is a standard environment, not a multidev: every site has dev, test and live, and they cannot be ${action === "create" ? "created" : "deleted"}.`,
    );
  }
  const result = multidevNameSchema.safeParse(name);
  if (!result.success)
    throw new UsageError(result.error.issues[0]?.message ?? `Invalid multidev name '${name}'.`);
  return { site, env: result.data };
}

/** Registers `multidev:create`, `multidev:delete` and `env:list`. */
export function registerMultidevCommands(program: Command, context: CliContext): void {
  program.commandsGroup("Environments:");

  withExamples(
    program
      .command("multidev:create")
      .description("Create a multidev environment on a site (1-11 lowercase letters, digits and hyphens).")
      .argument("<site.env>", "site and new environment, e.g. my-site.feature1")
      .action(async (target: string) => {
        const { site, env } = parseMultidevArg(target, "create");
        const client = await context.client();
        await client.createMultidev(site, env);
        context.info(`Multidev '${env}' created on site '${site}'.`);
      }),
    ["lockbox multidev:create my-site.feature1"],
  );

  withExamples(
    program
      .command("multidev:delete")
      .description("Delete a multidev, with its site secret overrides and its tokens.")
      .argument("<site.env>", "site and environment, e.g. my-site.feature1")
      .option("-y, --yes", "do not ask for confirmation")
      .action(async (target: string, options: { yes?: boolean }) => {
        const { site, env } = parseMultidevArg(target, "delete");
        const client = await context.client();
        await confirmDestructive(
          context,
          options.yes,
          `Delete multidev '${env}' of site '${site}' with its overrides and tokens?`,
        );
        await client.deleteMultidev(site, env);
        context.info(`Multidev '${env}' deleted from site '${site}', with its overrides and tokens.`);
      }),
    ["lockbox multidev:delete my-site.feature1", "lockbox multidev:delete my-site.feature1 --yes"],
  );

  withExamples(
    program
      .command("env:list")
      .description("List a site's environments: dev, test, live and its multidevs.")
      .argument("<site>", "site name or UUID")
      .addOption(formatOption())
      .action(async (siteArg: string, options: { format: ListFormat }) => {
        const { site } = parseSiteArg(siteArg, "forbidden");
        const client = await context.client();
        const environments = await client.listEnvironments(site);
        printList<Environment>(
          context,
          environments,
          [
            { header: "name", get: (env) => env.name },
            { header: "kind", get: (env) => env.kind },
            { header: "created", get: (env) => pick(env, "createdAt") },
          ],
          options.format,
          `Site '${site}' has no environments.`,
        );
      }),
    ["lockbox env:list my-site", "lockbox env:list my-site --format=json"],
  );
}
