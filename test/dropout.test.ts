import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RoundMessage } from '../protocol/index.js';
import { Simulation, type RunReport } from '../simulator/index.js';

const ROUND_TIMEOUT_MS = 20_000;

/**
 * The round messages ran on the simulated clock: each gives the round timeout from its
 * announcement, and (no device ever waited for) each round starts when the one before closed
 * in simulated time.
 */
function expectSimulatedDeadlines(messages: RoundMessage[], report: RunReport): void {
  expect(messages).toHaveLength(report.rounds.length);
  messages.forEach((m, i) => {
    expect(m.deadline - m.issuedAt!).toBe(ROUND_TIMEOUT_MS);
    if (i > 0) expect(m.issuedAt! - messages[i - 1]!.issuedAt!).toBeCloseTo(report.rounds[i - 1]!.simMs!, 0);
  });
}

describe('a heterogeneous fleet with dropouts', () => {
  it('closes every round with a quorum, without waiting for the deadline, and keeps a simulated clock', async () => {
    // Prepare: 10 devices of a custom profile that drops out of 30% of its rounds; training
    // costs a fixed simulated time per example (6,000 examples x 0.5 ms x speed 4 = 12 s).
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fedmq-dropout-'));
    const file = path.join(dir, 'profiles.json');
    await writeFile(file, JSON.stringify([{ name: 'flaky', speed: 4, uplinkBps: 1e6, downlinkBps: 4e6, latencyMs: 40, dropout: 0.3 }]));
    const simulation = new Simulation({
      devices: 10, rounds: 3, fraction: 1, quorum: 5, model: 'mlp', codec: 'int8', backend: 'wasm', seed: 1,
      profiles: file, msPerExample: 0.5, roundTimeoutMs: ROUND_TIMEOUT_MS,
    });
    const messages: RoundMessage[] = [];
    simulation.on('roundStarted', (m) => messages.push(m));
    // Execute
    const report = await simulation.run();
    // Assert: dropouts happened, yet each round closed early (all missing devices had gone) with a quorum.
    expect(report.rounds).toHaveLength(3);
    expect(report.fleet?.profiles).toEqual({ flaky: 10 });
    expect(report.rounds.reduce((s, r) => s + r.dropped!, 0)).toBeGreaterThan(0);
    for (const r of report.rounds) {
      expect(r.participants).toBe(10);
      expect(r.accepted).toBeGreaterThanOrEqual(5);
      expect(r.accepted + r.dropped!).toBe(r.participants);
      expect(r.closedBy).toBe(r.dropped! > 0 ? 'dropouts' : 'complete');
      // Simulated time: the deadline when someone dropped out, else the slowest device's finish.
      if (r.dropped! > 0) expect(r.simMs).toBe(ROUND_TIMEOUT_MS);
      else expect(r.simMs).toBeLessThan(ROUND_TIMEOUT_MS);
      expect(r.simMs).toBeGreaterThan(12_000);
    }
    expectSimulatedDeadlines(messages, report);
    expect(report.final.simWallMs).toBeCloseTo(report.rounds.reduce((s, r) => s + r.simMs!, 0), 0);
    expect(report.final.accuracy).toBeGreaterThan(0.5);
  }, 120_000);

  it('cuts stragglers at the simulated deadline, which the round messages carry', async () => {
    // Prepare: 8 devices, 3 of them so slow that their simulated finish falls far past the deadline.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fedmq-stragglers-'));
    const file = path.join(dir, 'profiles.json');
    await writeFile(file, JSON.stringify([
      { name: 'quick', share: 5, speed: 1, uplinkBps: 1e7, downlinkBps: 1e7, latencyMs: 10, dropout: 0 },
      { name: 'slug', share: 3, speed: 1000, uplinkBps: 1e7, downlinkBps: 1e7, latencyMs: 10, dropout: 0 },
    ]));
    const simulation = new Simulation({
      devices: 8, rounds: 2, fraction: 1, quorum: 3, model: 'mlp', codec: 'f32', backend: 'wasm', seed: 1,
      profiles: file, msPerExample: 0.01, roundTimeoutMs: ROUND_TIMEOUT_MS,
    });
    const messages: RoundMessage[] = [];
    simulation.on('roundStarted', (m) => messages.push(m));
    // Execute
    const report = await simulation.run();
    // Assert: each round took the quick devices' updates only, closed by its (simulated) deadline.
    expect(report.fleet?.profiles).toEqual({ quick: 5, slug: 3 });
    for (const r of report.rounds) {
      expect([r.participants, r.accepted, r.simLate, r.closedBy, r.simMs]).toEqual([8, 5, 3, 'deadline', ROUND_TIMEOUT_MS]);
    }
    expectSimulatedDeadlines(messages, report);
  }, 120_000);

  it('chooses only devices whose online window is open, and the same ones for the same seed', async () => {
    // Prepare: 12 devices online 40% of the time in sessions of about 20 simulated seconds.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fedmq-availability-'));
    const file = path.join(dir, 'profiles.json');
    await writeFile(file, JSON.stringify([{ name: 'sometimes', speed: 2, uplinkBps: 1e7, downlinkBps: 1e7, latencyMs: 20, dropout: 0, availability: 0.4, sessionS: 20 }]));
    const options = {
      devices: 12, rounds: 4, fraction: 1, model: 'mlp' as const, codec: 'int8', backend: 'wasm' as const, seed: 2,
      profiles: file, msPerExample: 0.5, roundTimeoutMs: ROUND_TIMEOUT_MS,
    };
    const chosen: string[][] = [];
    const simulation = new Simulation(options);
    simulation.on('roundStarted', (m) => chosen.push(m.participants));
    // Execute: twice.
    const report = await simulation.run();
    const again: string[][] = [];
    const second = new Simulation(options);
    second.on('roundStarted', (m) => again.push(m.participants));
    await second.run();
    // Assert: with fraction 1 every available device trains; about 40% of them are, and the
    // set changes from round to round as sessions end and begin.
    expect(chosen).toEqual(again);
    const sizes = chosen.map((p) => p.length);
    expect(Math.max(...sizes)).toBeLessThan(12);
    expect(sizes.reduce((a, b) => a + b, 0) / sizes.length).toBeGreaterThan(1);
    expect(new Set(chosen.map((p) => p.join())).size).toBeGreaterThan(1);
    expect(report.rounds.map((r) => r.accepted)).toEqual(sizes);
  }, 120_000);

  it('refuses bad profiles and over-selection factors with the option named', () => {
    expect(() => new Simulation({ profiles: 'pi-3:1' })).toThrow(/profiles/);
    expect(() => new Simulation({ overselect: 0.5 })).toThrow(/overselect/);
    expect(new Simulation({ overselect: 1.3 }).options.overselect).toBe(1.3);
  });
});
