import { describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from './clock.js';

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

describe('ManualClock', () => {
  it('wakes sleepers only when it is moved past their time, earliest first', async () => {
    // Prepare
    const clock = new ManualClock(100);
    const woke: number[] = [];
    for (const at of [300, 200, 250]) void clock.sleepUntil(at).then(() => woke.push(at));
    // Execute
    clock.advanceTo(220);
    await tick();
    const first = [...woke];
    clock.advance(100);
    await tick();
    // Assert
    expect(first).toEqual([200]);
    expect(woke).toEqual([200, 250, 300]);
    expect(clock.now()).toBe(320);
  });

  it('never goes back, resolves a time already past at once, and lets an abort end a wait', async () => {
    const clock = new ManualClock(50);
    clock.advanceTo(10);
    expect(clock.now()).toBe(50);
    await clock.sleepUntil(40);
    const waking = new AbortController();
    let woke = false;
    void clock.sleepUntil(1_000, waking.signal).then(() => (woke = true));
    await tick();
    expect(woke).toBe(false);
    waking.abort();
    await tick();
    expect([woke, clock.now()]).toEqual([true, 50]);
  });
});

describe('systemClock', () => {
  it('sleeps until the wall time given', async () => {
    const at = Date.now() + 60;
    await systemClock.sleepUntil(at);
    expect(Date.now()).toBeGreaterThanOrEqual(at);
  });

  it('does not wake at once for a time beyond the longest timer (2^31 - 1 ms), and ends on abort', async () => {
    // Prepare: a deadline 30 days away; a single setTimeout that long fires immediately.
    const waking = new AbortController();
    let woke = false;
    void systemClock.sleepUntil(Date.now() + 30 * 24 * 3600_000, waking.signal).then(() => (woke = true));
    // Execute
    await tick();
    const early = woke;
    waking.abort();
    await tick();
    // Assert
    expect(early).toBe(false);
    expect(woke).toBe(true);
  });
});
