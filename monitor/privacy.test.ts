import { describe, expect, it } from 'vitest';
import { build, builtinTask, encodeMessage, fleetTopics, taskLayout } from '../protocol/index.js';
import { FleetState } from './state.js';
import { renderTerminal } from './terminal.js';

const topics = fleetTopics('default');
const T0 = 1_700_000_000_000;
const metrics = (round: number, epsilon: number): Uint8Array => encodeMessage(build.metrics({
  round, accuracy: 0.9, loss: 0.3, participants: 10, accepted: 10, rejected: 0, rejectedByReason: {}, bytesUp: 1, bytesDown: 1, trainMs: 1, aggregateMs: 1, wallMs: 1000,
  privacy: { mode: 'central', epsilon, delta: 1e-5, noiseMultiplier: 1.1, clip: 0.5, rounds: round, budget: 4 },
}));

describe('the monitor under --dp', () => {
  it('shows the epsilon spent as of the last round in the JSON snapshot and the terminal view', () => {
    const state = new FleetState({ fleet: 'default' });
    state.ingest(topics.metrics, metrics(1, 1.25), false, T0);
    state.ingest(topics.metrics, metrics(2, 2.5), false, T0 + 1000);

    const snapshot = state.snapshot(T0 + 2000);

    expect(snapshot.privacy).toEqual({ round: 2, mode: 'central', epsilon: 2.5, delta: 1e-5, noiseMultiplier: 1.1, clip: 0.5, rounds: 2, budget: 4 });
    expect(snapshot.history.map((h) => h.privacy?.epsilon)).toEqual([1.25, 2.5]);
    const line = renderTerminal(snapshot, { width: 200 }).find((l) => l.startsWith('Privacy'));
    expect(line).toMatch(/^Privacy {2}epsilon 2\.500 at delta 0\.00001 {2}budget 4 █+░+ {3}\(central DP, z 1\.1, clip 0\.5\d*, 2 rounds accounted, as of round 2\)$/);
  });

  it('shows local DP from the task before any round closed, and nothing without DP', () => {
    const state = new FleetState({ fleet: 'default' });
    expect(renderTerminal(state.snapshot(T0)).some((l) => l.startsWith('Privacy'))).toBe(false);
    const task = builtinTask('mlp');
    state.ingest(topics.task, encodeMessage(build.task({
      model: 'mlp', task, paramCount: taskLayout(task).paramCount, codec: 'f32', downlink: 'f32', defaults: { epochs: 1, batchSize: 20, lr: 0.05 }, dp: { noiseMultiplier: 3, clip: 0.2 },
    })), true, T0);

    const snapshot = state.snapshot(T0);

    expect(snapshot.privacy).toBeUndefined();
    expect(snapshot.task?.dp).toEqual({ noiseMultiplier: 3, clip: 0.2 });
    expect(renderTerminal(snapshot).find((l) => l.startsWith('Privacy'))).toBe('Privacy  local DP on the devices: z 3, clip 0.2');
  });
});
