import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock, OptionsError, type RoundMessage } from '../protocol/index.js';
import type { RoundReport } from '../aggregator/index.js';
import { BUILTIN_PROFILES, assignProfiles, dropsOut, parseProfiles, simulatedFinishMs, transferMs, type DeviceProfile } from './profiles.js';
import { SimClock } from './simClock.js';

const ids = Array.from({ length: 10 }, (_, k) => `device-${k}`);

function optionOf(spec: string): string | undefined {
  try {
    parseProfiles(spec);
  } catch (e) {
    return e instanceof OptionsError ? e.option : 'not an OptionsError';
  }
  return undefined;
}

describe('device profiles', () => {
  it('parse built-in shares and normalise them', () => {
    const mix = parseProfiles('pi-zero-2:0.3,pi-4:0.5,pi-5:0.2');
    expect(mix.entries.map((e) => [e.profile.name, e.share])).toEqual([['pi-zero-2', 0.3], ['pi-4', 0.5], ['pi-5', 0.2]]);
    expect(parseProfiles('pi-4:2,pi-5:2').entries.map((e) => e.share)).toEqual([0.5, 0.5]);
    expect(parseProfiles('pi-zero-2').entries).toEqual([{ profile: BUILTIN_PROFILES['pi-zero-2'], share: 1 }]);
  });

  it('reject bad specs with OptionsError naming the profiles option', () => {
    for (const spec of ['', 'pi-3:1', 'pi-4:x', 'pi-4:-1', 'pi-4:0', 'pi-4:1:2', 'pi-4:0.5,pi-4:0.5', 'missing.json']) {
      expect(optionOf(spec), spec).toBe('profiles');
    }
  });

  it('read custom profiles from a JSON file, equal shares by default', async () => {
    // Prepare
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fedmq-profiles-'));
    const good = path.join(dir, 'good.json');
    const bad = path.join(dir, 'bad.json');
    const flaky = { name: 'flaky', speed: 3, uplinkBps: 1e6, downlinkBps: 2e6, latencyMs: 50, dropout: 0.3 };
    await writeFile(good, JSON.stringify([flaky, { ...flaky, name: 'steady', dropout: 0 }]));
    await writeFile(bad, JSON.stringify([{ ...flaky, dropout: 1 }]));
    // Execute
    const mix = parseProfiles(good);
    // Assert
    expect(mix.entries).toEqual([{ profile: flaky, share: 0.5 }, { profile: { ...flaky, name: 'steady', dropout: 0 }, share: 0.5 }]);
    expect(() => parseProfiles(bad)).toThrow(/dropout must be in \[0, 1\)/);
    expect(optionOf(bad)).toBe('profiles');
  });

  it('are assigned by share, the same for the same seed whatever the id order', () => {
    const mix = parseProfiles('pi-zero-2:0.3,pi-4:0.5,pi-5:0.2');
    const a = assignProfiles(ids, mix, 3);
    const b = assignProfiles([...ids].reverse(), mix, 3);
    const count = (name: string): number => [...a.values()].filter((p) => p.name === name).length;
    expect([count('pi-zero-2'), count('pi-4'), count('pi-5')]).toEqual([3, 5, 2]);
    expect(ids.map((id) => a.get(id)!.name)).toEqual(ids.map((id) => b.get(id)!.name));
    // Largest remainders: 7 devices at 1/3 each still all get a profile.
    expect(assignProfiles(ids.slice(0, 7), parseProfiles('pi-zero-2:1,pi-4:1,pi-5:1'), 0).size).toBe(7);
  });

  it('drop out at their rate, deterministically', () => {
    const p: DeviceProfile = { ...BUILTIN_PROFILES['pi-4']!, dropout: 0.3 };
    let dropped = 0;
    for (let round = 1; round <= 1000; round++) if (dropsOut(p, 7, round, 'device-1')) dropped += 1;
    expect(dropped / 1000).toBeGreaterThan(0.25);
    expect(dropped / 1000).toBeLessThan(0.35);
    expect(dropsOut(p, 7, 5, 'device-1')).toBe(dropsOut(p, 7, 5, 'device-1'));
    expect(dropsOut({ ...p, dropout: 0 }, 7, 5, 'device-1')).toBe(false);
  });

  it('finish a round at download + training x speed + upload', () => {
    const p = BUILTIN_PROFILES['pi-zero-2']!;
    // 400 KB global at 20 Mbit/s + 30 ms, 500 ms x 8 of training, 2 KB at 10 Mbit/s + 30 ms.
    expect(transferMs(400_000, 20e6, 30)).toBeCloseTo(190);
    expect(simulatedFinishMs(p, { downBytes: 400_000, trainMs: 500, upBytes: 2000 })).toBeCloseTo(190 + 4000 + 31.6);
  });
});

describe('the simulated clock', () => {
  const round = (over: Partial<RoundReport>): RoundReport => ({
    round: 1, accuracy: 0.5, loss: 1, participants: 2, accepted: 2, rejected: 0, rejectedByReason: {}, bytesUp: 0, bytesDown: 2000,
    trainMs: 0, trainMsMax: 0, aggregateMs: 0, evalMs: 0, wallMs: 0, closedBy: 'complete', missing: [], aggregated: true, ...over,
  });

  it('lasts as long as the slowest accepted device, or the deadline when one never reported', () => {
    // Prepare: a pi-5 and a pi-zero-2, both 100 ms of training, in rounds of 10 simulated seconds.
    const profiles = new Map([['fast', BUILTIN_PROFILES['pi-5']!], ['slow', BUILTIN_PROFILES['pi-zero-2']!]]);
    const time = new ManualClock(0);
    const clock = new SimClock(profiles, time);
    const message = (n: number): RoundMessage => ({ round: n, participants: ['fast', 'slow'], issuedAt: time.now(), deadline: time.now() + 10_000 }) as RoundMessage;
    // Execute
    clock.roundStarted(message(1));
    clock.trained('fast', 100);
    clock.trained('slow', 100);
    clock.accepted('fast', 1000);
    clock.accepted('slow', 1000);
    const complete = clock.closeRound(round({}));
    const afterFirst = time.now();
    clock.roundStarted(message(2));
    clock.trained('fast', 100);
    clock.accepted('fast', 1000);
    clock.droppedOut('slow', 2);
    const dropped = clock.closeRound(round({ round: 2, accepted: 1, closedBy: 'dropouts', missing: ['slow'] }));
    // Assert
    const slow = simulatedFinishMs(BUILTIN_PROFILES['pi-zero-2']!, { downBytes: 1000, trainMs: 100, upBytes: 1000 });
    expect(complete).toEqual({ simMs: Math.round(slow * 10) / 10, dropped: 0, simLate: 0 });
    expect(afterFirst).toBeCloseTo(slow);
    expect(dropped).toEqual({ simMs: 10_000, dropped: 1, simLate: 0 });
    expect(time.now()).toBeCloseTo(slow + 10_000);
  });

  it('moves to the deadline as soon as every participant has settled and one was cut as a straggler', async () => {
    // Prepare: 'slug' trains 1000x slower than the deadline allows.
    const slug: DeviceProfile = { ...BUILTIN_PROFILES['pi-5']!, name: 'slug', speed: 1000 };
    const time = new ManualClock(5_000);
    const clock = new SimClock(new Map([['slug', slug]]), time);
    const round1 = { round: 1, participants: ['fast', 'slug'], issuedAt: 5_000, deadline: 25_000 } as RoundMessage;
    clock.roundStarted(round1);
    let woke = false;
    void time.sleepUntil(round1.deadline).then(() => (woke = true));
    // Execute: slug's update is cut; the clock may not move while 'fast' could still report.
    clock.trained('slug', 100);
    const cut = clock.late('slug', round1, 1000, 1000);
    await Promise.resolve();
    const before = [time.now(), woke];
    clock.trained('fast', 100);
    clock.accepted('fast', 1000);
    await Promise.resolve();
    // Assert
    expect(cut).toBe(true);
    expect(before).toEqual([5_000, false]);
    expect([time.now(), woke]).toEqual([25_000, true]);
    expect(clock.closeRound(round({ accepted: 1, closedBy: 'deadline', missing: ['slug'] }))).toEqual({ simMs: 20_000, dropped: 0, simLate: 1 });
  });

});
