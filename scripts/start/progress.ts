/**
 * A progress bar for long-running commands, on stderr so `--json` output stays clean. On a
 * terminal it redraws one line; elsewhere (CI logs, pipes) it prints a line every 10 %.
 */
export class ProgressBar {
  readonly #label: string;
  readonly #total: number;
  readonly #unit: string;
  readonly #startedMs = performance.now();
  readonly #tty = process.stderr.isTTY === true;
  #done = 0;
  #lastDecile = -1;
  #lastDrawMs = 0;
  #extra = "";

  constructor(label: string, total: number, unit: string) {
    this.#label = label;
    this.#total = Math.max(total, 1);
    this.#unit = unit;
  }

  /** Adds to the count and redraws (at most ~10 times a second on a terminal). */
  tick(by = 1, extra?: string): void {
    this.#done += by;
    if (extra !== undefined) {
      this.#extra = extra;
    }
    const now = performance.now();
    if (this.#tty) {
      if (now - this.#lastDrawMs >= 100 || this.#done >= this.#total) {
        this.#lastDrawMs = now;
        process.stderr.write(`\r${this.#line(now)}\x1b[K`);
      }
      return;
    }
    const decile = Math.floor((this.#done / this.#total) * 10);
    if (decile !== this.#lastDecile) {
      this.#lastDecile = decile;
      process.stderr.write(`${this.#line(now)}\n`);
    }
  }

  note(extra: string): void {
    this.#extra = extra;
    this.tick(0);
  }

  finish(): void {
    if (this.#tty) {
      process.stderr.write(`\r${this.#line(performance.now())}\x1b[K\n`);
    }
  }

  #line(nowMs: number): string {
    const fraction = Math.min(1, this.#done / this.#total);
    const width = 28;
    const filled = Math.round(fraction * width);
    const seconds = (nowMs - this.#startedMs) / 1000;
    const rate = seconds > 0 ? this.#done / seconds : 0;
    const eta = rate > 0 ? Math.max(0, (this.#total - this.#done) / rate) : 0;
    const bar = `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
    const count = `${this.#done.toLocaleString("en-US")}/${this.#total.toLocaleString("en-US")} ${this.#unit}`;
    const speed = `${Math.round(rate).toLocaleString("en-US")} ${this.#unit}/s`;
    return `  ${this.#label} ${bar} ${(fraction * 100).toFixed(0).padStart(3)}% ${count} · ${speed} · eta ${eta.toFixed(0)}s${this.#extra ? ` · ${this.#extra}` : ""}`;
  }
}

/** A one-line step with its duration, for the phases of a long command. */
export async function step<T>(label: string, work: () => Promise<T>): Promise<T> {
  const startedMs = performance.now();
  process.stderr.write(`• ${label}…\n`);
  const result = await work();
  process.stderr.write(`  done in ${((performance.now() - startedMs) / 1000).toFixed(1)} s\n`);
  return result;
}
