import type { Site, SiteOwnerInput } from "@lockbox/sdk";
import type { Command } from "commander";
import { parseSiteArg } from "../arguments.js";
import {
  confirmDestructive,
  formatOption,
  labels,
  parseOrgArg,
  pick,
  withExamples,
} from "../command-helpers.js";
import type { CliContext } from "../context.js";
import { UsageError } from "../errors.js";
import { type ListFormat, printList, printRecord } from "../output.js";
import { reportRemoval } from "./tokens.js";
import { parseUserArg } from "./users.js";

interface OwnerOptions {
  readonly org?: string;
  readonly owner?: string;
}

/**
 * The owner chosen by `--org` or `--owner`: exactly one of them.
 *
 * @throws {UsageError} when neither or both are given.
 */
function parseOwnerOptions(options: OwnerOptions, command: string): SiteOwnerInput {
  if ((options.org === undefined) === (options.owner === undefined)) {
    throw new UsageError(
      `${command} needs exactly one owner: --org=ORG for an organization's site, or --owner=EMAIL for a personal site.`,
    );
  }
  return options.org !== undefined
    ? { org: parseOrgArg(options.org) }
    : { owner: parseUserArg(options.owner as string) };
}

function collect(value: string, previous: readonly string[]): string[] {
  return [
    ...previous,
    ...value
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== ""),
  ];
}

/** A site's owner as people read it: `org acme` or `user alice@example.com`. */
export function ownerLabel(site: Readonly<Record<string, unknown>>): string | undefined {
  const owner = site.owner;
  if (typeof owner === "string") return owner;
  if (typeof owner === "object" && owner !== null) {
    const record = owner as Readonly<Record<string, unknown>>;
    const label = pick(record, "name", "email", "id");
    const kind = pick(record, "kind", "type");
    if (label !== undefined) return kind === "org" || kind === "user" ? `${kind} ${label}` : label;
  }
  const org = pick(site, "ownerOrg", "ownerOrgName", "ownerOrgId");
  if (org !== undefined) return `org ${org}`;
  const user = pick(site, "ownerUser", "ownerEmail", "ownerUserId");
  return user === undefined ? undefined : `user ${user}`;
}

/** Registers `site:create`, `site:list`, `site:info`, `site:delete`, `site:transfer`, `site:supporting-org:*` and `site:team:*`. */
export function registerSiteCommands(program: Command, context: CliContext): void {
  program.commandsGroup("Sites:");

  withExamples(
    program
      .command("site:create")
      .description("Create a site owned by an organization (--org) or a personal site (--owner).")
      .argument("<site>", "the site's name: 1-63 lowercase letters, digits and hyphens")
      .option("--org <org>", "the organization that owns the site")
      .option("--owner <email>", "the user who owns the personal site")
      .option("--supporting-org <org>", "an organization that supports the site (repeatable)", collect, [])
      .action(async (siteArg: string, options: OwnerOptions & { supportingOrg: string[] }) => {
        const { site } = parseSiteArg(siteArg, "forbidden");
        const owner = parseOwnerOptions(options, "site:create");
        const supportingOrgs = options.supportingOrg.map((org) => parseOrgArg(org));
        const client = await context.client();
        const created = await client.createSite({
          name: site,
          ...owner,
          supportingOrgs: supportingOrgs.length > 0 ? supportingOrgs : undefined,
        });
        context.info(`Site '${created.name}' created with environments dev, test and live.`);
      }),
    [
      "lockbox site:create my-site --org=acme",
      "lockbox site:create my-site --org=acme --supporting-org=agency",
      "lockbox site:create blog --owner=alice@example.com",
    ],
  );

  withExamples(
    program
      .command("site:list")
      .description("List the sites you can manage.")
      .option("--org <org>", "only the sites of this organization")
      .addOption(formatOption())
      .action(async (options: { org?: string; format: ListFormat }) => {
        const org = options.org === undefined ? undefined : parseOrgArg(options.org);
        const client = await context.client();
        const sites = await client.listSites({ org });
        printList<Site>(
          context,
          sites,
          [
            { header: "name", get: (site) => site.name },
            { header: "id", get: (site) => site.id },
            { header: "owner", get: (site) => ownerLabel(site) },
            { header: "created", get: (site) => pick(site, "createdAt") },
          ],
          options.format,
          "You have no Sites.",
        );
      }),
    ["lockbox site:list", "lockbox site:list --org=acme --format=json"],
  );

  withExamples(
    program
      .command("site:info")
      .description("Show a site: its owner, supporting organizations, environments and team.")
      .argument("<site>", "site name or UUID")
      .addOption(formatOption(["table", "json", "yaml"]))
      .action(async (siteArg: string, options: { format: ListFormat }) => {
        const { site } = parseSiteArg(siteArg, "forbidden");
        const client = await context.client();
        const info = await client.getSite(site);
        printRecord(
          context,
          info,
          [
            ["name", info.name],
            ["id", info.id],
            ["owner", ownerLabel(info)],
            ["supporting orgs", labels(info.supportingOrgs)],
            ["environments", labels(info.environments)],
            ["team", labels(info.team)],
            ["created", pick(info, "createdAt")],
          ],
          options.format,
        );
      }),
    ["lockbox site:info my-site", "lockbox site:info my-site --format=json"],
  );

  withExamples(
    program
      .command("site:delete")
      .description("Delete a site with its secrets, environments and tokens. This cannot be undone.")
      .argument("<site>", "site name or UUID")
      .option("-y, --yes", "do not ask for confirmation")
      .action(async (siteArg: string, options: { yes?: boolean }) => {
        const { site } = parseSiteArg(siteArg, "forbidden");
        const client = await context.client();
        await confirmDestructive(
          context,
          options.yes,
          `Delete site '${site}' with all its secrets, environments and tokens?`,
        );
        await client.deleteSite(site);
        context.info(`Site '${site}' deleted, with its secrets, environments and tokens.`);
      }),
    ["lockbox site:delete my-site", "lockbox site:delete my-site --yes"],
  );

  withExamples(
    program
      .command("site:transfer")
      .description("Move a site to another organization (--org) or to a personal owner (--owner).")
      .argument("<site>", "site name or UUID")
      .option("--org <org>", "the new owner organization")
      .option("--owner <email>", "the new personal owner")
      .action(async (siteArg: string, options: OwnerOptions) => {
        const { site } = parseSiteArg(siteArg, "forbidden");
        const owner = parseOwnerOptions(options, "site:transfer");
        const client = await context.client();
        await client.transferSite(site, owner);
        const to = "org" in owner ? `organization '${owner.org}'` : `'${owner.owner}'`;
        context.info(`Site '${site}' now belongs to ${to}.`);
      }),
    [
      "lockbox site:transfer my-site --org=new-org",
      "lockbox site:transfer my-site --owner=alice@example.com",
    ],
  );

  withExamples(
    program
      .command("site:supporting-org:add")
      .description("Let another organization's members manage a site (its secrets never reach the site).")
      .argument("<site>", "site name or UUID")
      .argument("<org>", "organization name or UUID")
      .action(async (siteArg: string, orgArg: string) => {
        const { site } = parseSiteArg(siteArg, "forbidden");
        const org = parseOrgArg(orgArg);
        const client = await context.client();
        await client.addSupportingOrg(site, org);
        context.info(`Organization '${org}' now supports site '${site}'.`);
      }),
    ["lockbox site:supporting-org:add my-site agency"],
  );

  withExamples(
    program
      .command("site:supporting-org:remove")
      .description(
        "Stop an organization supporting a site. People on the site's team stay on it, those of that organization included: each of them is named with the site:team:remove command that takes them off.",
      )
      .argument("<site>", "site name or UUID")
      .argument("<org>", "organization name or UUID")
      .action(async (siteArg: string, orgArg: string) => {
        const { site } = parseSiteArg(siteArg, "forbidden");
        const org = parseOrgArg(orgArg);
        const client = await context.client();
        const ended = await client.removeSupportingOrg(site, org);
        context.info(ended?.message ?? `Organization '${org}' no longer supports site '${site}'.`);
        for (const member of ended?.teamMembersFromOrg ?? []) {
          context.info(`  lockbox site:team:remove ${site} ${member.email}`);
        }
      }),
    ["lockbox site:supporting-org:remove my-site agency"],
  );

  withExamples(
    program
      .command("site:team:add")
      .description("Add a user to a site's team: they may manage its secrets, multidevs and tokens.")
      .argument("<site>", "site name or UUID")
      .argument("<email>", "the user's email address (or UUID)")
      .action(async (siteArg: string, userArg: string) => {
        const { site } = parseSiteArg(siteArg, "forbidden");
        const user = parseUserArg(userArg);
        const client = await context.client();
        await client.addTeamMember(site, user);
        context.info(`'${user}' is now on the team of site '${site}'.`);
      }),
    ["lockbox site:team:add my-site alice@example.com"],
  );

  withExamples(
    program
      .command("site:team:remove")
      .description(
        "Remove a user from a site's team. Lists the runtime and build tokens they created for the site that still work, with the command to revoke each: they are left active, as applications and builds may run on them.",
      )
      .argument("<site>", "site name or UUID")
      .argument("<email>", "the user's email address (or UUID)")
      .action(async (siteArg: string, userArg: string) => {
        const { site } = parseSiteArg(siteArg, "forbidden");
        const user = parseUserArg(userArg);
        const client = await context.client();
        const removal = await client.removeTeamMember(site, user);
        reportRemoval(context, removal, `'${user}' is no longer on the team of site '${site}'.`);
      }),
    ["lockbox site:team:remove my-site alice@example.com"],
  );
}
