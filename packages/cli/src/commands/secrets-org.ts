import { OVERRIDE_DELETED_MESSAGE, SECRET_DELETED_MESSAGE } from "@lockbox/core";
import type { OrgSecretRow } from "@lockbox/sdk";
import { type Command, Option } from "commander";
import { parseEnvOption } from "../arguments.js";
import {
  fieldsOption,
  formatOption,
  parseOrgArg,
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
import { chooseFields, type FieldSet, type ListFormat, printKeyedListing, type Row } from "../output.js";
import { deletedOption, printDeletedSecrets } from "./secret-restore.js";
import { NO_SECRETS_MESSAGE } from "./secrets-site.js";

/** The fields of `secret:org:list`. */
export const ORG_SECRET_FIELDS: FieldSet = {
  all: ["name", "type", "value", "scopes", "env-values"],
  tableDefault: ["name", "type", "value", "scopes"],
};

function envOption(description: string): Option {
  return new Option("--env <env>", description);
}

/** Registers `secret:org:set`, `secret:org:list` and `secret:org:delete`. */
export function registerOrgSecretCommands(program: Command, context: CliContext): void {
  program.commandsGroup("Organization secrets:");

  withExamples(
    withDoubleDashHelp(
      program
        .command("secret:org:set")
        .alias("secret-org-set")
        .description(
          "Create or update an organization secret (inherited by the sites it owns), or with --env its override in one environment.",
        )
        .argument("<org>", "organization name or UUID")
        .argument("<name>", "secret name")
        .argument("[value]", VALUE_ARGUMENT_HELP)
        .addOption(typeOption())
        .addOption(scopeOption())
        .addOption(envOption("set the override for this environment instead of the default value"))
        .addOption(valueFileOption())
        .action(
          async (
            orgArg: string,
            name: string,
            value: string | undefined,
            options: SetSecretOptions & { env?: string },
          ) => {
            const org = parseOrgArg(orgArg, { envOption: true });
            const env = options.env === undefined ? undefined : parseEnvOption(options.env);
            await setSecretCommand(context, { name, value, env }, options, (client, input) =>
              env === undefined
                ? client.setOrgSecret(org, name, input)
                : client.setOrgSecretOverride(org, name, env, input),
            );
          },
        ),
      "the value (so a value that starts with '-' goes there)",
    ),
    [
      "lockbox secret:org:set my-org API_KEY s3cr3t --scope=web,user",
      "lockbox secret:org:set my-org API_KEY live-value --env=live",
      "lockbox secret:org:set my-org github-oauth.github.com --type=composer --scope=ic < token.txt",
    ],
  );

  withExamples(
    program
      .command("secret:org:list")
      .alias("secret-org-list")
      .description("List an organization's secrets.")
      .argument("<org>", "organization name or UUID")
      .addOption(formatOption())
      .addOption(fieldsOption(ORG_SECRET_FIELDS))
      .addOption(deletedOption())
      .action(async (orgArg: string, options: { format: ListFormat; fields?: string; deleted?: boolean }) => {
        const org = parseOrgArg(orgArg);
        if (options.deleted) {
          await printDeletedSecrets(context, { org }, options);
          return;
        }
        const fields = chooseFields(ORG_SECRET_FIELDS, options.fields, options.format);
        const client = await context.client();
        const rows = await client.listOrgSecrets(org);
        printKeyedListing(context, rows.map(orgSecretRow), fields, options.format, NO_SECRETS_MESSAGE);
      }),
    [
      "lockbox secret:org:list my-org",
      "lockbox secret:org:list my-org --fields='*' --format=yaml",
      "lockbox secret:org:list my-org --deleted",
    ],
  );

  withExamples(
    program
      .command("secret:org:delete")
      .alias("secret-org-delete")
      .description("Delete an organization secret and all its overrides, or with --env only that override.")
      .argument("<org>", "organization name or UUID")
      .argument("<name>", "secret name")
      .addOption(envOption("delete only the override for this environment"))
      .action(async (orgArg: string, name: string, options: { env?: string }) => {
        const org = parseOrgArg(orgArg, { envOption: true });
        const env = options.env === undefined ? undefined : parseEnvOption(options.env);
        const client = await context.client();
        const result =
          env === undefined
            ? await client.deleteOrgSecret(org, name)
            : await client.deleteOrgSecretOverride(org, name, env);
        context.info(
          result?.message || (env === undefined ? SECRET_DELETED_MESSAGE : OVERRIDE_DELETED_MESSAGE),
        );
      }),
    ["lockbox secret:org:delete my-org API_KEY", "lockbox secret:org:delete my-org API_KEY --env=live"],
  );
}

/** An organization listing row under the field names of `secret:org:list`. */
export function orgSecretRow(secret: OrgSecretRow): Row {
  return {
    name: secret.name,
    type: secret.type,
    value: secret.value,
    scopes: secret.scopes,
    "env-values": secret.envValues ?? {},
  };
}
