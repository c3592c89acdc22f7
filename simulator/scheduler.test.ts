import { describe, expect, it } from 'vitest';
import type { FinishedWork } from '../device-agent/index.js';
import { ManualClock, type RoundMessage } from '../protocol/index.js';
import { BUILTIN_PROFILES, type DeviceProfile } from './profiles.js';
import { SimScheduler } from './scheduler.js';

const instant: DeviceProfile = { name: 'instant', speed: 1, uplinkBps: Infinity, downlinkBps: Infinity, latencyMs: 0, dropout: 0 };
const round = { round: 1, deadline: 1000 } as RoundMessage;
const update = (bytes = 0): FinishedWork => ({ round, outcome: 'update', bytes });
const work = (outcome: FinishedWork['outcome']): FinishedWork => ({ round, outcome, bytes: 0 });
const scheduler = (profile: DeviceProfile): SimScheduler => new SimScheduler(() => profile, new ManualClock(0));

/** Records the order in which held work is released. */
function recorder(s: SimScheduler): { order: string[]; hold(id: string, w: FinishedWork, trainMs: number): void } {
  const order: string[] = [];
  return { order, hold: (id, w, trainMs) => void s.finished(id, w, trainMs).then(() => order.push(`${id}@${s.now}`)) };
}
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('SimScheduler: device work released in simulated-time order', () => {
  it('holds everything until every device in flight has trained, then releases the earliest finish', async () => {
    const s = scheduler(instant);
    const r = recorder(s);
    s.dispatched(['a', 'b', 'c'], 0);
    s.idle();
    r.hold('a', update(), 300);
    r.hold('b', update(), 100);
    await flush();
    expect(r.order).toEqual([]); // c may still finish first
    r.hold('c', update(), 200);
    await flush();
    expect(r.order).toEqual(['b@100']);
  });

  it('waits for the coordinator to settle the released work and go idle before the next', async () => {
    const s = scheduler(instant);
    const r = recorder(s);
    s.dispatched(['a', 'b'], 0);
    s.idle();
    r.hold('a', update(), 100);
    r.hold('b', update(), 200);
    await flush();
    expect(r.order).toEqual(['a@100']);
    s.idle(); // idle before it dealt with a's update: not yet
    await flush();
    expect(r.order).toEqual(['a@100']);
    s.settled('a', 'update');
    // The reply to a's update: d starts now, at 100, and finishes at 150, before b.
    s.dispatched(['d'], 0);
    s.idle();
    r.hold('d', update(), 50);
    await flush();
    expect(r.order).toEqual(['a@100', 'd@150']);
    s.settled('d', 'update');
    s.idle();
    await flush();
    expect(r.order).toEqual(['a@100', 'd@150', 'b@200']);
  });

  it("moves the coordinator's clock only once it has dealt with the released work", async () => {
    const s = scheduler(instant);
    const r = recorder(s);
    s.dispatched(['a'], 0);
    s.idle();
    r.hold('a', update(), 700);
    await flush();
    // Released: the fleet's clock is at a's finish, the coordinator's not yet (its update is on the way).
    expect([s.now, s.settledNow]).toEqual([700, 0]);
    s.settled('a', 'update');
    expect(s.settledNow).toBe(700);
  });

  it('counts links by real message size and the profile speed', async () => {
    const zero = BUILTIN_PROFILES['pi-zero-2']!;
    const s = scheduler(zero);
    const r = recorder(s);
    s.dispatched(['a'], 1_000_000);
    s.idle();
    r.hold('a', update(500_000), 100);
    await flush();
    // 1 MB down at 20 Mbit/s (400 ms) + 30 ms, 100 ms x 8, 0.5 MB up at 10 Mbit/s (400 ms) + 30 ms.
    expect(r.order).toEqual([`a@${400 + 30 + 800 + 400 + 30}`]);
  });

  it('holds a dropout to the deadline, then keeps the device in flight until it rejoins', async () => {
    const s = scheduler(instant);
    const r = recorder(s);
    s.dispatched(['a', 'b'], 0);
    s.idle();
    r.hold('a', work('dropout'), 0);
    r.hold('b', update(), 5000);
    await flush();
    expect(r.order).toEqual(['a@1000']);
    s.settled('a', 'online'); // a stale status is not the awaited one
    s.idle();
    await flush();
    expect(r.order).toEqual(['a@1000']);
    s.settled('a', 'offline');
    s.idle();
    await flush();
    expect(r.order).toEqual(['a@1000']); // a's rejoin has not been asked for: b must wait
    r.hold('a', work('rejoin'), 0);
    await flush();
    expect(r.order).toEqual(['a@1000', 'a@1000']);
    s.settled('a', 'online');
    s.idle();
    await flush();
    expect(r.order).toEqual(['a@1000', 'a@1000', 'b@5000']);
    expect(s.takeDropped()).toBe(1);
  });
});
