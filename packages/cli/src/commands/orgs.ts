import type { Member, Org } from "@lockbox/sdk";
import { type Command, Option } from "commander";
import { confirmDestructive, formatOption, parseOrgArg, pick, withExamples } from "../command-helpers.js";
import type { CliContext } from "../context.js";
import { type ListFormat, printList, printRecord } from "../output.js";
import { reportRemoval } from "./tokens.js";
import { parseUserArg } from "./users.js";

/** Registers `org:create`, `org:list`, `org:info`, `org:delete` and the `org:member:*` commands. */
export function registerOrgCommands(program: Command, context: CliContext): void {
  program.commandsGroup("Organizations:");

  withExamples(
    program
      .command("org:create")
      .description("Create an organization (platform admin).")
      .argument("<org>", "the organization's name: 1-63 lowercase letters, digits and hyphens")
      .action(async (orgArg: string) => {
        const name = parseOrgArg(orgArg);
        const client = await context.client();
        const org = await client.createOrg(name);
        context.info(
          `Organization '${org.name}' created. Add members with: lockbox org:member:add ${org.name} EMAIL --role=admin`,
        );
      }),
    ["lockbox org:create acme"],
  );

  withExamples(
    program
      .command("org:list")
      .description("List the organizations you belong to (all of them for a platform admin).")
      .addOption(formatOption())
      .action(async (options: { format: ListFormat }) => {
        const client = await context.client();
        const orgs = await client.listOrgs();
        printList<Org>(
          context,
          orgs,
          [
            { header: "name", get: (org) => org.name },
            { header: "id", get: (org) => org.id },
            { header: "role", get: (org) => pick(org, "role") },
            { header: "created", get: (org) => pick(org, "createdAt") },
          ],
          options.format,
          "You have no Organizations.",
        );
      }),
    ["lockbox org:list", "lockbox org:list --format=json"],
  );

  withExamples(
    program
      .command("org:info")
      .description("Show an organization and your role in it.")
      .argument("<org>", "organization name or UUID")
      .addOption(formatOption(["table", "json", "yaml"]))
      .action(async (orgArg: string, options: { format: ListFormat }) => {
        const client = await context.client();
        const org = await client.getOrg(parseOrgArg(orgArg));
        printRecord(
          context,
          org,
          [
            ["name", org.name],
            ["id", org.id],
            ["your role", pick(org, "role")],
            ["created", pick(org, "createdAt")],
          ],
          options.format,
        );
      }),
    ["lockbox org:info acme"],
  );

  withExamples(
    program
      .command("org:delete")
      .description(
        "Delete an organization with its secrets and memberships (platform admin). Refused while it owns sites.",
      )
      .argument("<org>", "organization name or UUID")
      .option("-y, --yes", "do not ask for confirmation")
      .action(async (orgArg: string, options: { yes?: boolean }) => {
        const org = parseOrgArg(orgArg);
        const client = await context.client();
        await confirmDestructive(context, options.yes, `Delete organization '${org}' and all its secrets?`);
        await client.deleteOrg(org);
        context.info(`Organization '${org}' deleted.`);
      }),
    ["lockbox org:delete acme", "lockbox org:delete acme --yes"],
  );

  withExamples(
    program
      .command("org:member:add")
      .description("Add a user to an organization, or change their role (org admin).")
      .argument("<org>", "organization name or UUID")
      .argument("<email>", "the user's email address (or UUID)")
      .addOption(
        new Option("--role <role>", "the member's role")
          .choices(["admin", "member"] as const)
          .default("member"),
      )
      .action(async (orgArg: string, userArg: string, options: { role: "admin" | "member" }) => {
        const org = parseOrgArg(orgArg);
        const user = parseUserArg(userArg);
        const client = await context.client();
        const member = await client.setMember(org, user, options.role);
        context.info(
          `'${member?.email ?? user}' is now ${options.role === "admin" ? "an admin" : "a member"} of '${org}'.`,
        );
      }),
    [
      "lockbox org:member:add acme alice@example.com",
      "lockbox org:member:add acme bob@example.com --role=admin",
    ],
  );

  withExamples(
    program
      .command("org:member:remove")
      .description(
        "Remove a user from an organization (org admin). Lists the runtime and build tokens they created for the org's sites that still work, with the command to revoke each: they are left active, as applications and builds may run on them.",
      )
      .argument("<org>", "organization name or UUID")
      .argument("<email>", "the user's email address (or UUID)")
      .action(async (orgArg: string, userArg: string) => {
        const org = parseOrgArg(orgArg);
        const user = parseUserArg(userArg);
        const client = await context.client();
        const removal = await client.removeMember(org, user);
        reportRemoval(context, removal, `'${user}' was removed from '${org}'.`);
      }),
    ["lockbox org:member:remove acme alice@example.com"],
  );

  withExamples(
    program
      .command("org:member:list")
      .description("List an organization's members and their roles.")
      .argument("<org>", "organization name or UUID")
      .addOption(formatOption())
      .action(async (orgArg: string, options: { format: ListFormat }) => {
        const org = parseOrgArg(orgArg);
        const client = await context.client();
        const members = await client.listMembers(org);
        printList<Member>(
          context,
          members,
          [
            { header: "email", get: (member) => member.email },
            { header: "role", get: (member) => member.role },
            { header: "user id", get: (member) => member.userId },
          ],
          options.format,
          `Organization '${org}' has no members.`,
        );
      }),
    ["lockbox org:member:list acme", "lockbox org:member:list acme --format=json"],
  );
}
