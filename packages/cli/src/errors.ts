/** A failed operation: the message goes to stderr and the process exits with `exitCode` (1). */
export class CliError extends Error {
  override readonly name: string = "CliError";

  constructor(
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
  }
}

/** A usage error (a bad argument or option): exit code 2. */
export class UsageError extends CliError {
  override readonly name: string = "UsageError";

  constructor(message: string) {
    super(message, 2);
  }
}
