import { OVERRIDE_DELETED_MESSAGE, SECRET_DELETED_MESSAGE } from "@lockbox/core";
import { LockboxApiError, type LockboxClient, type ResolvedSecret, type SiteSecretRow } from "@lockbox/sdk";
import { type Command, Option } from "commander";
import { parseSiteArg } from "../arguments.js";
import {
  fieldsOption,
  formatOption,
  type SetSecretOptions,
  scopeOption,
  setSecretCommand,
  typeOption,
  VALUE_ARGUMENT_HELP,
  valueFileOption,
  withDoubleDashHelp,
  withExamples,
} from "../command-helpers.js";
import type { CliContext } from "../context.js";
import { CliError } from "../errors.js";
import { chooseFields, type FieldSet, type ListFormat, printKeyedListing, type Row } from "../output.js";
import { deletedOption, printDeletedSecrets } from "./secret-restore.js";

/** The fields of `secret:site:list` (SPEC §2.3). */
export const SITE_SECRET_FIELDS: FieldSet = {
  all: ["name", "type", "value", "scopes", "env-values", "org-values", "owner"],
  tableDefault: ["name", "type", "value", "scopes"],
};

/** The fields of `secret:site:resolve` (SPEC §2.4). */
export const RESOLVED_SECRET_FIELDS: FieldSet = {
  all: ["name", "type", "value", "scopes", "source"],
  tableDefault: ["name", "type", "value", "scopes", "source"],
};

/** The message of an empty secret table. */
export const NO_SECRETS_MESSAGE = "You have no Secrets.";

interface ListOptions {
  readonly format: ListFormat;
  readonly fields?: string;
}

/** Registers `secret:site:set`, `secret:site:list`, `secret:site:delete` and `secret:site:resolve`. */
export function registerSiteSecretCommands(program: Command, context: CliContext): void {
  program.commandsGroup("Site secrets:");

  withExamples(
    withDoubleDashHelp(
      program
        .command("secret:site:set")
        .aliases(["secret:set", "secret-set"])
        .description("Create or update a site secret, or set its override in one environment (<site>.<env>).")
        .argument("<site>", "site name or UUID; <site>.<env> sets the override for that environment")
        .argument("<name>", "secret name")
        .argument("[value]", VALUE_ARGUMENT_HELP)
        .addOption(typeOption())
        .addOption(scopeOption())
        .addOption(valueFileOption())
        .action(
          async (target: string, name: string, value: string | undefined, options: SetSecretOptions) => {
            const { site, env } = parseSiteArg(target, "optional");
            await setSecretCommand(context, { name, value, env }, options, (client, input) =>
              env === undefined
                ? client.setSiteSecret(site, name, input)
                : client.setSiteSecretOverride(site, name, env, input),
            );
          },
        ),
      "the value (so a value that starts with '-' goes there)",
    ),
    [
      "lockbox secret:site:set my-site API_KEY s3cr3t --scope=web,user",
      "lockbox secret:site:set my-site.live API_KEY live-value",
      "lockbox secret:site:set my-site COMPOSER_AUTH --type=env --scope=ic --value-file=auth.json",
      "lockbox secret:site:set my-site TLS_KEY --scope=web --value-file=key.pem",
      'echo "$API_KEY" | lockbox secret:site:set my-site API_KEY',
      "lockbox secret:site:set my-site FLAG -- -value-starting-with-a-dash",
    ],
  );

  withExamples(
    program
      .command("secret:site:list")
      .aliases(["secret:list", "secrets"])
      .description(
        "List a site's secrets and those it inherits from its organization; with <site>.<env>, the overrides in that environment.",
      )
      .argument("<site>", "site name or UUID, optionally .<env>")
      .addOption(formatOption())
      .addOption(fieldsOption(SITE_SECRET_FIELDS))
      .addOption(deletedOption())
      .action(async (target: string, options: ListOptions & { readonly deleted?: boolean }) => {
        if (options.deleted) {
          const { site } = parseSiteArg(target, "forbidden");
          await printDeletedSecrets(context, { site }, options);
          return;
        }
        const { site, env } = parseSiteArg(target, "optional");
        const fields = chooseFields(SITE_SECRET_FIELDS, options.fields, options.format);
        const client = await context.client();
        const rows = await client.listSiteSecrets(site, { env });
        printKeyedListing(context, rows.map(siteSecretRow), fields, options.format, NO_SECRETS_MESSAGE);
      }),
    [
      "lockbox secret:site:list my-site",
      "lockbox secret:site:list my-site --fields='*'",
      "lockbox secret:site:list my-site.live --format=json",
      "lockbox secret:site:list my-site --fields=name,owner,org-values --format=csv",
      "lockbox secret:site:list my-site --deleted",
    ],
  );

  withExamples(
    program
      .command("secret:site:delete")
      .aliases(["secret:delete", "secret-delete"])
      .description("Delete a site secret and all its overrides, or with <site>.<env> only that override.")
      .argument("<site>", "site name or UUID; <site>.<env> deletes only the override")
      .argument("<name>", "secret name")
      .action(async (target: string, name: string) => {
        const { site, env } = parseSiteArg(target, "optional");
        const client = await context.client();
        const result = await (env === undefined
          ? client.deleteSiteSecret(site, name)
          : client.deleteSiteSecretOverride(site, name, env)
        ).catch(async (error: unknown) => {
          throw await withInheritedHint(client, error, site, name);
        });
        context.info(
          result?.message || (env === undefined ? SECRET_DELETED_MESSAGE : OVERRIDE_DELETED_MESSAGE),
        );
      }),
    ["lockbox secret:site:delete my-site API_KEY", "lockbox secret:site:delete my-site.live API_KEY"],
  );

  withExamples(
    program
      .command("secret:site:resolve")
      .description(
        "Show what a consumer sees in one environment, and where each value comes from (site-override, site, org-override, org).",
      )
      .argument("<site.env>", "site and environment, e.g. my-site.live")
      .addOption(
        new Option("--scope <scope>", "the consumer: web (the application), ic (builds) or user (people)")
          .choices(["web", "ic", "user"] as const)
          .default("web"),
      )
      .addOption(formatOption())
      .addOption(fieldsOption(RESOLVED_SECRET_FIELDS))
      .action(async (target: string, options: ListOptions & { readonly scope: "web" | "ic" | "user" }) => {
        const { site, env } = parseSiteArg(target, "required");
        const fields = chooseFields(RESOLVED_SECRET_FIELDS, options.fields, options.format);
        const client = await context.client();
        const rows = await client.resolve(site, env as string, options.scope);
        printKeyedListing(
          context,
          rows.map(resolvedRow),
          fields,
          options.format,
          `No secrets reach the ${options.scope} scope in ${site}.${env}.`,
        );
      }),
    [
      "lockbox secret:site:resolve my-site.live",
      "lockbox secret:site:resolve my-site.dev --scope=ic --format=json",
    ],
  );
}

/** A site listing row under the field names of SPEC §2.3. */
export function siteSecretRow(secret: SiteSecretRow): Row {
  return {
    name: secret.name,
    type: secret.type,
    value: secret.value,
    scopes: secret.scopes,
    "env-values": secret.envValues ?? {},
    "org-values": secret.orgValues ?? {},
    owner: secret.owner,
  };
}

function resolvedRow(secret: ResolvedSecret): Row {
  return {
    name: secret.name,
    type: secret.type,
    value: secret.value,
    scopes: secret.scopes,
    source: secret.source,
  };
}

/**
 * A site delete's 404 for a secret the site inherits from its organization, with where to delete
 * it: the listing shows such a secret on the site, so "does not exist" alone would puzzle.
 */
async function withInheritedHint(
  client: LockboxClient,
  error: unknown,
  site: string,
  name: string,
): Promise<unknown> {
  if (!(error instanceof LockboxApiError) || error.status !== 404) return error;
  const rows = await client.listSiteSecrets(site).catch(() => []);
  if (!rows.some((row) => row.name === name && row.owner === "org")) return error;
  return new CliError(
    // The server's message stays whole on the first line (SPEC §2.2); the hint follows on its own.
    `${error.message}\nIt is the site's organization's secret, which the site inherits: delete it with lockbox secret:org:delete <org> ${name}, or give the site its own value with lockbox secret:site:set ${site} ${name}.`,
  );
}
