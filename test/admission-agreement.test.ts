import { describe, expect, it } from 'vitest';
import { RoundCollection } from '../aggregator/round.js';
import { FedAvg } from '../aggregator/strategies/index.js';
import { FleetState } from '../monitor/state.js';
import { taskOf } from './helpers.js';
import { ErrorFeedback, Rng, build, encodeMessage, fleetTopics, parseCodec } from '../protocol/index.js';

// The aggregator decides which updates enter a round and the monitor repeats the decision from
// traffic; both apply protocol/admission.ts, so a label the aggregator refuses the monitor
// must refuse too (the monitor used to canonicalise codec specs, the aggregator not).
const topics = fleetTopics('lab');
const T0 = 1_700_000_000_000;
const CANONICAL = 'int8+deflate+ef';
const REORDERED = 'int8+ef+deflate';
const PARAMS = 64;
const codec = parseCodec(CANONICAL);

const roundMessage = (round: number, participants: string[]) =>
  build.round({ round, globalVersion: round - 1, participants, deadline: T0 + 60_000, codec: codec.spec, seed: 1, epochs: 1, batchSize: 10, lr: 0.1 });

/** An update as an agent encodes it, under the codec label `label`. */
function updatePayload(round: number, deviceId: string, label: string): Uint8Array {
  const delta = Float32Array.from({ length: PARAMS }, (_, i) => Math.sin(i + deviceId.length) * 1e-2);
  return encodeMessage(build.update({
    round, deviceId, numExamples: 10, codec: label, delta: new ErrorFeedback(PARAMS).encode(codec, delta, new Rng(3)),
    metrics: { loss: 0.5, accuracy: 0.8 }, trainMs: 100,
  }));
}

/** What the aggregator's sync round says of each update, by device. */
function aggregatorVerdicts(updates: [deviceId: string, label: string][]): Record<string, string> {
  const message = roundMessage(1, updates.map(([id]) => id));
  const collection = new RoundCollection(message, codec, new FedAvg().beginRound(1, new Float32Array(PARAMS)), 1 << 20);
  const verdicts: Record<string, string> = {};
  for (const [id, label] of updates) {
    const v = collection.receive(id, updatePayload(1, id, label));
    verdicts[id] = v.accepted ? 'accepted' : v.reason;
  }
  return verdicts;
}

/** What the monitor, following the same round in sync or async mode, counts. */
function monitorCounts(mode: 'sync' | 'async', updates: [deviceId: string, label: string][]): { received: number; rejectedByReason: Record<string, number> } {
  const state = new FleetState({ fleet: 'lab' });
  if (mode === 'async') {
    const task = build.task({ ...taskOf(PARAMS),  codec: codec.spec, downlink: 'f32', defaults: { epochs: 1, batchSize: 10, lr: 0.1 }, mode: 'async', buffer: 10 });
    state.ingest(topics.task, encodeMessage(task), false, T0);
  }
  state.ingest(topics.round, encodeMessage(roundMessage(1, updates.map(([id]) => id))), false, T0);
  updates.forEach(([id, label], i) => state.ingest(topics.update(id), updatePayload(1, id, label), false, T0 + 1 + i));
  const round = state.snapshot(T0 + 100).round!;
  return { received: round.received, rejectedByReason: round.rejectedByReason };
}

describe('the aggregator and the monitor admit updates by one rule', () => {
  it(`both refuse an update labelled ${REORDERED} in a round of ${CANONICAL} as bad-codec, and both take the canonical label`, () => {
    const updates: [string, string][] = [['pi-1', REORDERED], ['pi-2', CANONICAL]];
    expect(aggregatorVerdicts(updates)).toEqual({ 'pi-1': 'bad-codec', 'pi-2': 'accepted' });
    expect(monitorCounts('sync', updates)).toEqual({ received: 1, rejectedByReason: { 'bad-codec': 1 } });
    expect(monitorCounts('async', updates)).toEqual({ received: 1, rejectedByReason: { 'bad-codec': 1 } });
  });

  it('the reordered label is the same codec, so only the label decides', () => {
    expect(parseCodec(REORDERED).spec).toBe(CANONICAL);
  });
});
