import type { CliOutput } from "./context.js";

/**
 * A progress bar on stderr for long work (`keys:rotate`): redrawn in place on a terminal, and a
 * line per quarter elsewhere (logs stay readable).
 */
export class ProgressBar {
  readonly #out: CliOutput;
  readonly #label: string;
  #lastQuarter = -1;

  constructor(out: CliOutput, label: string) {
    this.#out = out;
    this.#label = label;
  }

  update(done: number, total: number): void {
    const fraction = total === 0 ? 1 : Math.min(1, done / total);
    if (this.#out.isTTY) {
      const width = 30;
      const filled = Math.round(fraction * width);
      this.#out.write(
        `\r[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total} ${this.#label}`,
      );
      if (done >= total) this.#out.write("\n");
      return;
    }
    const quarter = Math.floor(fraction * 4);
    if (quarter !== this.#lastQuarter) {
      this.#lastQuarter = quarter;
      this.#out.write(`${Math.round(fraction * 100)}% (${done}/${total} ${this.#label})\n`);
    }
  }
}
