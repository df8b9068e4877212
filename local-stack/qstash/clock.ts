/**
 * The sandbox's own clock. Delays, retry backoff, deduplication windows and cron schedules all
 * read it, so tests move time with `POST /_sandbox/clock` instead of sleeping. It ticks with the
 * wall clock plus an offset, or stands still when frozen; both facts are persisted with the rest
 * of the state so a restart resumes at the same sandbox time.
 */

export interface ClockState {
  /** Added to the wall clock while running. */
  offsetMs: number;
  /** Sandbox time while frozen; null while running. */
  frozenAtMs: number | null;
}

export class SandboxClock {
  #state: ClockState;
  #wallMs: () => number;

  constructor(state: ClockState, wallMs: () => number = Date.now) {
    this.#state = { ...state };
    this.#wallMs = wallMs;
  }

  /** Sandbox time in ms since the epoch. */
  nowMs(): number {
    return this.#state.frozenAtMs ?? this.#wallMs() + this.#state.offsetMs;
  }

  get frozen(): boolean {
    return this.#state.frozenAtMs !== null;
  }

  /** Stops or restarts the clock at the current sandbox time. */
  setFrozen(frozen: boolean): void {
    const now = this.nowMs();
    if (frozen) {
      this.#state = { offsetMs: this.#state.offsetMs, frozenAtMs: now };
    } else {
      this.#state = { offsetMs: now - this.#wallMs(), frozenAtMs: null };
    }
  }

  /** Jumps to `timeMs`, keeping the frozen/running mode. */
  set(timeMs: number): void {
    if (this.frozen) {
      this.#state = { offsetMs: this.#state.offsetMs, frozenAtMs: timeMs };
    } else {
      this.#state = { offsetMs: timeMs - this.#wallMs(), frozenAtMs: null };
    }
  }

  /** Moves time forward by `ms` (never backwards: elapsed time is not negative). */
  advance(ms: number): void {
    if (ms < 0) {
      throw new RangeError("the sandbox clock only advances forwards");
    }
    this.set(this.nowMs() + ms);
  }

  snapshot(): ClockState {
    return { ...this.#state };
  }
}
