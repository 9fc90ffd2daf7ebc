/**
 * What the runtime client reads from: a set of secrets and where it comes from (the server or a
 * local file).
 */
import type { WatchAnswer } from "./runtime-watch.js";

/** One resolved set, kept both ways so neither read has to copy. */
export interface SecretSet {
  readonly map: ReadonlyMap<string, string>;
  readonly record: Readonly<Record<string, string>>;
}

/** Where a client's set comes from: the server or a local file. */
export interface SecretSource {
  /** The set to serve now, fetching or re-reading only when needed. */
  current(): Promise<SecretSet>;
  /** Fetches or re-reads now; rejects on any failure. */
  refresh(): Promise<void>;
  /** The set held now, without fetching. */
  latest(): SecretSet | undefined;
  /** One blocking read (server) or a look a second later (file), for the watch loop. */
  watchOnce(waitSeconds: number, signal: AbortSignal): Promise<WatchAnswer>;
  /** Lets go of what the watch kept open (a connection); reads still work afterwards. */
  close(): void;
}

export function secretSet(map: ReadonlyMap<string, string>): SecretSet {
  const record: Record<string, string> = Object.create(null);
  for (const [name, value] of map) record[name] = value;
  return { map, record: Object.freeze(record) };
}

export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
