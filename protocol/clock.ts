/**
 * Where time comes from. The coordinator, the agent and the simulator take one `Clock` and
 * read no other: deadlines are set and checked on it, waits end on it. A deployment uses
 * `systemClock`; a simulation supplies its simulated clock, which moves only when the fleet's
 * work says it does (a device's simulated finish, a deadline nobody beats), so nothing a test
 * asserts depends on how busy the machine is.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch, on this clock. */
  now(): number;
  /**
   * Resolves once `now() >= at`, or as soon as `signal` aborts (the waiter was woken by
   * something else and gave up on the time).
   */
  sleepUntil(at: number, signal?: AbortSignal): Promise<void>;
}

/** The longest single timer a JS runtime keeps (2^31 - 1 ms); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Wall time: `Date.now()` and timers (a wait past ~24.8 days is slept in several). */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleepUntil(at, signal) {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const arm = (): void => {
        const left = at - Date.now();
        if (left <= 0) return done();
        timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
      };
      signal?.addEventListener('abort', done, { once: true });
      arm();
    });
  },
};

/**
 * A clock that moves only when told (`advanceTo`): the simulator's fleet time, and tests'
 * fixed time. Sleepers whose time has come are woken in order of their wake-up time.
 */
export class ManualClock implements Clock {
  private time: number;
  private readonly sleepers = new Set<{ at: number; wake: () => void }>();

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  sleepUntil(at: number, signal?: AbortSignal): Promise<void> {
    if (at <= this.time || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const sleeper = {
        at,
        wake: (): void => {
          this.sleepers.delete(sleeper);
          signal?.removeEventListener('abort', sleeper.wake);
          resolve();
        },
      };
      this.sleepers.add(sleeper);
      signal?.addEventListener('abort', sleeper.wake, { once: true });
    });
  }

  /** Moves the time forward to `t` (never back) and wakes whoever slept until then. */
  advanceTo(t: number): void {
    if (!(t > this.time)) return;
    this.time = t;
    const due = [...this.sleepers].filter((s) => s.at <= t).sort((a, b) => a.at - b.at);
    for (const s of due) s.wake();
  }

  /** Moves the time forward by `ms`. */
  advance(ms: number): void {
    this.advanceTo(this.time + ms);
  }
}
