import { describe, expect, it } from 'vitest';
import { build, encodeMessage, parseTask, type EvaluationMessage, type StatisticsMessage } from '../protocol/index.js';
import { PhaseCollection, fleetEvaluation, fleetStatistics } from './phase.js';

const binary = parseTask({ input: { shape: [2] }, output: { kind: 'binary' }, model: { layers: [{ kind: 'dense', units: 1 }] } });

function evaluateRound(participants: string[]): PhaseCollection {
  return new PhaseCollection(build.round({
    kind: 'evaluate', round: 3, globalVersion: 3, participants, deadline: 10, issuedAt: 0, codec: 'f32', seed: 1, epochs: 1, batchSize: 1, lr: 0.1,
  }) as never);
}

function evaluation(deviceId: string, over: Partial<EvaluationMessage> = {}): Uint8Array {
  return encodeMessage(build.evaluation({
    round: 3, deviceId, globalVersion: 3, count: 10, loss: 0.5, metrics: { accuracy: 0.8 },
    sums: { loss: 5, correct: 8, tp: 2, fp: 1, fn: 1, tn: 6 }, ...over,
  }));
}

describe('an evaluate phase', () => {
  it('keeps one reply per asked device, for this round and version, and refuses the rest with a reason', () => {
    // Prepare
    const phase = evaluateRound(['a', 'b', 'c']);
    // Execute
    const verdicts = [
      phase.receive('a', evaluation('a')),
      phase.receive('a', evaluation('a')),
      phase.receive('b', evaluation('a')),
      phase.receive('b', evaluation('b', { round: 2 })),
      phase.receive('b', evaluation('b', { globalVersion: 2 })),
      phase.receive('z', evaluation('z')),
      phase.receive('b', encodeMessage(build.statistics({ round: 3, deviceId: 'b', count: [1], sum: [1], sumSquares: [1] }))),
      phase.receive('b', encodeMessage(build.update({ round: 3, deviceId: 'b', numExamples: 1, codec: 'f32', delta: new Uint8Array(4), metrics: { loss: 1 }, trainMs: 1 }))),
      phase.receive('b', new Uint8Array([0xff, 0x00])),
    ];
    phase.open = false;
    const late = phase.receive('c', evaluation('c'));
    // Assert
    expect(verdicts.map((v) => v.kind)).toEqual(['kept', 'refused', 'refused', 'refused', 'refused', 'refused', 'refused', 'not-mine', 'not-mine']);
    expect(verdicts.slice(1, 7).map((v) => (v as { detail: string }).detail)).toEqual([
      'replied twice', 'claims to be a', 'for round 2, not 3', 'evaluated version 2, not 3', 'was not asked', 'a statistics reply to a evaluate round',
    ]);
    expect(late).toEqual({ kind: 'refused', detail: 'a evaluation reply for round 3 after the evaluate phase closed' });
    expect([...phase.replies.keys()]).toEqual(['a']);
    expect(phase.outstanding()).toEqual(['b', 'c']);
  });
});

describe('the fleet\'s evaluation', () => {
  it('pools the devices\' sums (F1 of all held-out rows, not a mean of F1s) and gives each metric\'s spread', () => {
    // Prepare: device a: tp 2 fp 0 fn 2 tn 6; device b: tp 0 fp 2 fn 0 tn 8; device c evaluated nothing.
    const replies: EvaluationMessage[] = [
      build.evaluation({ round: 1, deviceId: 'a', globalVersion: 1, count: 10, loss: 0.4, metrics: {}, sums: { loss: 4, correct: 8, tp: 2, fp: 0, fn: 2, tn: 6 } }),
      build.evaluation({ round: 1, deviceId: 'b', globalVersion: 1, count: 10, loss: 0.2, metrics: {}, sums: { loss: 2, correct: 8, tp: 0, fp: 2, fn: 0, tn: 8 } }),
      build.evaluation({ round: 1, deviceId: 'c', globalVersion: 1, count: 0, loss: 0, metrics: {}, sums: {}, error: 'no held-out data' }),
      // Sums no 10 examples can have: left out.
      build.evaluation({ round: 1, deviceId: 'd', globalVersion: 1, count: 10, loss: 0, metrics: {}, sums: { loss: 0, correct: 1e6 } }),
    ];
    // Execute
    const fleet = fleetEvaluation(binary, 1, replies)!;
    // Assert: pooled tp 2, fp 2, fn 2: F1 = 4 / 8; device a alone has F1 2/3, device b 0.
    expect(fleet.devices).toBe(2);
    expect(fleet.count).toBe(20);
    expect(fleet.loss).toBeCloseTo(0.3, 12);
    expect(fleet.metrics.accuracy).toBeCloseTo(0.8, 12);
    expect(fleet.metrics.f1).toBeCloseTo(0.5, 12);
    expect(fleet.spread.f1).toEqual({ min: 0, median: 1 / 3, max: 2 / 3 });
    // Device b has no actual positives: it has no recall, so the spread is device a's alone.
    expect(fleet.spread.recall).toEqual({ min: 0.5, median: 0.5, max: 0.5 });
    expect(fleet.spread.loss).toEqual({ min: 0.2, median: 0.30000000000000004, max: 0.4 });
    expect(fleetEvaluation(binary, 1, [replies[2]!])).toBeNull();
  });
});

describe('the fleet\'s feature statistics', () => {
  it('are the pooled mean and std, leave out moments no data could have, and give a constant feature std 1', () => {
    // Prepare: a: values 1, 3 and 5, 5; b: 5 and 5, 5.
    const stats = (deviceId: string, count: number[], sum: number[], sumSquares: number[]): StatisticsMessage => build.statistics({ round: 1, deviceId, count, sum, sumSquares });
    const replies = [
      stats('a', [2, 2], [4, 10], [10, 50]),
      stats('b', [1, 1], [5, 5], [25, 25]),
      stats('liar', [1, 1], [1e6, 5], [0, 25]), // sum^2 > n * sum of squares
      stats('huge', [1, 1], [1e31, 5], [1e62, 25]),
      stats('other-shape', [1], [1], [1]),
    ];
    // Execute
    const fleet = fleetStatistics(2, replies)!;
    // Assert: feature 0 over 1, 3, 5: mean 3, std sqrt(8/3); feature 1 is always 5.
    expect(fleet.devices).toBe(2);
    expect(fleet.count).toBe(3);
    expect(fleet.mean[0]).toBeCloseTo(3, 12);
    expect(fleet.std[0]).toBeCloseTo(Math.sqrt(8 / 3), 12);
    expect(fleet.mean[1]).toBeCloseTo(5, 12);
    expect(fleet.std[1]).toBe(1);
  });
});
