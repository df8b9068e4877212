/**
 * The only source of "now" in lib/. Production uses the system clock; tests pin and advance
 * a fixed clock instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  nowMs(): number;
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
};

/** A clock that only moves when told to. */
export class FixedClock implements Clock {
  #nowMs: number;

  constructor(start: Date | number) {
    this.#nowMs = typeof start === "number" ? start : start.getTime();
  }

  nowMs(): number {
    return this.#nowMs;
  }

  set(to: Date | number): void {
    this.#nowMs = typeof to === "number" ? to : to.getTime();
  }

  advance(byMs: number): void {
    this.#nowMs += byMs;
  }
}

/** A clock shifted from the system clock by an offset (used by demos that replay the past). */
export function offsetClock(offsetMs: number, base: Clock = systemClock): Clock {
  return { nowMs: () => base.nowMs() + offsetMs };
}
