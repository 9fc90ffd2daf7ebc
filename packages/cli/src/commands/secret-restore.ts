import { SECRET_RESTORED_MESSAGE } from "@lockbox/core";
import type { DeletedSecret, SecretOwner } from "@lockbox/sdk";
import { type Command, Option } from "commander";
import { parseSiteArg } from "../arguments.js";
import { parseOrgArg, withExamples } from "../command-helpers.js";
import type { CliContext } from "../context.js";
import { UsageError } from "../errors.js";
import { type Column, type ListFormat, printList } from "../output.js";

/** The message of an empty deleted-secrets listing. */
export const NO_DELETED_SECRETS_MESSAGE = "No deleted secrets to restore here.";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `secret:site:list --deleted` and `secret:org:list --deleted`: what can be restored, never a value. */
export async function printDeletedSecrets(
  context: CliContext,
  owner: SecretOwner,
  options: { readonly format: ListFormat; readonly fields?: string | undefined },
): Promise<void> {
  if (options.fields !== undefined) {
    throw new UsageError(
      "--fields does not apply with --deleted: deleted secrets show name, deleted-at, deleted-by, type, scopes, envs and id.",
    );
  }
  const client = await context.client();
  const rows = await client.listDeletedSecrets(owner);
  const columns: Column<DeletedSecret>[] = [
    { header: "name", get: (d) => d.name },
    { header: "deleted-at", get: (d) => d.deletedAt },
    { header: "deleted-by", get: (d) => d.deletedBy },
    { header: "type", get: (d) => d.type },
    { header: "scopes", get: (d) => d.scopes.join(", ") },
    { header: "envs", get: (d) => d.envs.join(", ") },
    { header: "id", get: (d) => d.id },
  ];
  printList(context, rows, columns, options.format, NO_DELETED_SECRETS_MESSAGE);
}

/** The `--deleted` option of the secret listings. */
export function deletedOption(): Option {
  return new Option(
    "--deleted",
    "list the deleted secrets that can still be restored (name, when, by whom), not the current ones",
  );
}

/** Registers `secret:site:restore` and `secret:org:restore`. */
export function registerSecretRestoreCommands(program: Command, context: CliContext): void {
  withExamples(
    program
      .command("secret:site:restore")
      .description(
        "Bring back a deleted site secret with its type, scopes, value and every override as they were when it was deleted (see secret:site:list <site> --deleted).",
      )
      .argument("<site>", "site name or UUID")
      .argument("<name>", "secret name")
      .addOption(idOption())
      .action(async (target: string, name: string, options: { readonly id?: string }) => {
        const { site } = parseSiteArg(target, "forbidden");
        await restore(context, { site }, name, options.id);
      }),
    [
      "lockbox secret:site:restore my-site API_KEY",
      "lockbox secret:site:restore my-site API_KEY --id=0b6d3c1e-8f5a-4d2b-9c7e-1a2b3c4d5e6f",
    ],
  );

  withExamples(
    program
      .command("secret:org:restore")
      .description(
        "Bring back a deleted organization secret with its overrides as they were when it was deleted (org admins; see secret:org:list <org> --deleted).",
      )
      .argument("<org>", "organization name or UUID")
      .argument("<name>", "secret name")
      .addOption(idOption())
      .action(async (org: string, name: string, options: { readonly id?: string }) => {
        await restore(context, { org: parseOrgArg(org) }, name, options.id);
      }),
    ["lockbox secret:org:restore my-org API_KEY"],
  );
}

function idOption(): Option {
  return new Option(
    "--id <id>",
    "which deleted secret of that name (its id in the --deleted list); default: the one deleted last",
  );
}

async function restore(
  context: CliContext,
  owner: SecretOwner,
  name: string,
  id: string | undefined,
): Promise<void> {
  if (id !== undefined && !UUID.test(id)) {
    throw new UsageError(`Invalid --id '${id}': use the id column of the --deleted list (a UUID).`);
  }
  const client = await context.client();
  const result = await client.restoreSecret(owner, name, id === undefined ? {} : { id });
  const overrides = result.envs.length === 0 ? "" : ` with its overrides in ${result.envs.join(", ")}`;
  context.info(`${result.message || SECRET_RESTORED_MESSAGE} '${result.name}' is back${overrides}.`);
  for (const note of result.notes) context.info(note);
}
