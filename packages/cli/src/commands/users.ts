import { emailSchema, isUuid } from "@lockbox/core";
import type { User } from "@lockbox/sdk";
import type { Command } from "commander";
import { formatOption, pick, withExamples } from "../command-helpers.js";
import type { CliContext } from "../context.js";
import { UsageError } from "../errors.js";
import { type ListFormat, printList } from "../output.js";

/**
 * Checks an email argument (trimmed, lower-cased as the server stores it).
 *
 * @throws {UsageError} with the rule's message.
 */
export function parseEmailArg(email: string): string {
  const result = emailSchema.safeParse(email);
  if (result.success) return result.data;
  throw new UsageError(result.error.issues[0]?.message ?? `Invalid email address '${email}'.`);
}

/**
 * Checks a user argument: an email address or a user UUID.
 *
 * @throws {UsageError} with the email rule's message.
 */
export function parseUserArg(user: string): string {
  return isUuid(user) ? user.toLowerCase() : parseEmailArg(user);
}

/** Registers `user:create` and `user:list` (platform admin). */
export function registerUserCommands(program: Command, context: CliContext): void {
  program.commandsGroup("Users:");

  withExamples(
    program
      .command("user:create")
      .description(
        "Create a user (platform admin). Give them a token with lockbox token:create --user=EMAIL.",
      )
      .argument("<email>", "the user's email address")
      .option("--admin", "make the user a platform admin")
      .action(async (emailArg: string, options: { admin?: boolean }) => {
        const email = parseEmailArg(emailArg);
        const client = await context.client();
        const user = await client.createUser({ email, admin: options.admin === true ? true : undefined });
        context.info(
          `User '${user.email}' created${user.admin === true ? " as a platform admin" : ""}. Create a token for them with: lockbox token:create --user=${user.email}`,
        );
      }),
    ["lockbox user:create alice@example.com", "lockbox user:create ops@example.com --admin"],
  );

  withExamples(
    program
      .command("user:list")
      .description("List users (platform admin).")
      .addOption(formatOption())
      .action(async (options: { format: ListFormat }) => {
        const client = await context.client();
        const users = await client.listUsers();
        printList<User>(
          context,
          users,
          [
            { header: "email", get: (user) => user.email },
            { header: "id", get: (user) => user.id },
            { header: "admin", get: (user) => (user.admin === true ? "yes" : "no") },
            { header: "created", get: (user) => pick(user, "createdAt") },
          ],
          options.format,
          "There are no users.",
        );
      }),
    ["lockbox user:list", "lockbox user:list --format=json"],
  );
}
