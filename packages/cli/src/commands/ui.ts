import type { Command } from "commander";
import { withExamples } from "../command-helpers.js";
import type { CliContext } from "../context.js";

/** The dashboard's address for a link secret: after `#`, so it never reaches a server or its logs. */
export function signinUrl(serverUrl: string, secret: string): string {
  return `${serverUrl.replace(/\/+$/, "")}/ui/#signin=${secret}`;
}

/** Registers `ui`: a one-time sign-in link to the web dashboard. */
export function registerUiCommand(program: Command, context: CliContext): void {
  withExamples(
    program
      .command("ui")
      .description(
        "Print a one-time link that signs you in to the server's web dashboard (valid 5 minutes, once). The page exchanges it for a 12-hour session token, listed by token:list and revoked when you sign out.",
      )
      .action(async () => {
        const client = await context.client();
        const link = await client.createSigninLink();
        context.info(
          `Open this link in your browser to sign in to the dashboard (it works once, until ${link.expiresAt}):`,
        );
        context.data(signinUrl(client.url, link.secret));
      }),
    ["lockbox ui"],
  );
}
