/**
 * A Lockbox (or plain) server in a child process running `runtime-server.ts`, driven over IPC, and a
 * management API call: shared by `runtime.ts` and `propagation.ts`.
 */
import { type ChildProcess, fork } from "node:child_process";
import type { ChildMessage, ParentMessage, StartMessage } from "./runtime-server.js";

/** How long a child may take to answer a message (start-up included). */
const CHILD_TIMEOUT_MS = 30_000;

/** A source tree whose bench/runtime-server.ts a child runs. */
export interface Tree {
  readonly root: string;
  readonly runner: string;
}

/** The child processes alive now (servers and wrk), so that every exit path can end them. */
export const children = new Set<ChildProcess>();

/** A server in a child process, driven over IPC (see runtime-server.ts). */
export class ServerChild {
  readonly #child: ChildProcess;
  readonly #name: string;
  #exited = false;

  private constructor(child: ChildProcess, name: string) {
    this.#child = child;
    this.#name = name;
    child.once("exit", () => {
      this.#exited = true;
      children.delete(child);
    });
  }

  static async start(
    name: string,
    tree: Tree,
    start: StartMessage,
    options: { readonly cpuProfDir?: string | undefined } = {},
  ): Promise<{ child: ServerChild; url: string; adminToken: string | undefined }> {
    const profile =
      options.cpuProfDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfDir}`];
    // `--import tsx` resolves from the working directory: the tree's own tsx.
    const process_ = fork(tree.runner, [], {
      cwd: tree.root,
      execArgv: ["--import", "tsx", ...profile],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    children.add(process_);
    const child = new ServerChild(process_, name);
    try {
      const ready = await child.#ask(start, "ready");
      return { child, url: ready.url, adminToken: ready.adminToken };
    } catch (error) {
      await child.close();
      throw error;
    }
  }

  /** The child's CPU time so far (all its threads) and its clock, both in µs. */
  cpu(): Promise<{ cpuMicros: number; wallMicros: number }> {
    return this.#ask({ type: "cpu" }, "cpu");
  }

  /** Sends `message` without waiting for an answer (the holding server's `change`). */
  send(message: ParentMessage): void {
    this.#child.send(message);
  }

  /** How many blocking reads a holding server holds. */
  async held(): Promise<number> {
    return (await this.#ask({ type: "held" }, "held")).count;
  }

  /** Starts a CPU profile of the child ({@link stopProfile} writes it). */
  async startProfile(): Promise<void> {
    await this.#ask({ type: "profile-start" }, "profiling");
  }

  /** Stops the child's CPU profile and has it written to `path`. */
  async stopProfile(path: string): Promise<void> {
    await this.#ask({ type: "profile-stop", path }, "profiled");
  }

  /** Asks the child to stop its server and exit; kills it if it has not within 5 s. */
  async close(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolveExit) => this.#child.once("exit", () => resolveExit()));
    if (this.#child.connected) this.#child.send({ type: "close" } satisfies ParentMessage);
    else this.#child.kill("SIGKILL");
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }

  #ask<T extends ChildMessage["type"]>(
    message: ParentMessage,
    answer: T,
  ): Promise<Extract<ChildMessage, { type: T }>> {
    return new Promise((resolveAnswer, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`The ${this.#name} child did not answer '${message.type}' in time.`));
      }, CHILD_TIMEOUT_MS);
      const onMessage = (reply: ChildMessage) => {
        if (reply.type === "failed") {
          cleanup();
          reject(new Error(`The ${this.#name} child failed: ${reply.message}`));
        } else if (reply.type === answer) {
          cleanup();
          resolveAnswer(reply as Extract<ChildMessage, { type: T }>);
        }
      };
      const onExit = (code: number | null, signal: string | null) => {
        cleanup();
        reject(new Error(`The ${this.#name} child exited (${signal ?? `code ${code}`}) before answering.`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.#child.off("message", onMessage);
        this.#child.off("exit", onExit);
      };
      this.#child.on("message", onMessage);
      this.#child.once("exit", onExit);
      this.#child.send(message);
    });
  }
}

/** A management API call as the admin; throws with the status and the server's message. */
export async function api(baseUrl: string, token: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 300)}`);
  return text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>);
}
