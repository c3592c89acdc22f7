import { build, encodeMessage, type RoundMessage, type Task } from '../protocol/index.js';
import type { DeviceExamples } from '../datasets/index.js';
import { numbers, type Trainer } from './trainer.js';

/** A reply to an `evaluate` or `statistics` round: its payload, and what it says, for the agent's event. */
export type PhaseReply =
  | { kind: 'statistics'; payload: Uint8Array; count: number }
  | { kind: 'evaluation'; payload: Uint8Array; count: number; loss: number; metrics: Record<string, number> };

/**
 * Per feature, the count, sum and sum of squares of the device's training readings after the
 * task's `input.scale`: all that leaves the device for the fleet's statistics.
 */
export function statisticsReply(round: RoundMessage, deviceId: string, data: DeviceExamples, task: Task): PhaseReply {
  const m = data.moments();
  const scale = task.input.scale ?? 1;
  const payload = encodeMessage(build.statistics({
    round: round.round, deviceId, count: m.count, sum: m.sum.map((v) => v / scale), sumSquares: m.sumSquares.map((v) => v / (scale * scale)),
  }));
  return { kind: 'statistics', payload, count: Math.max(0, ...m.count) };
}

/**
 * The global `weights` evaluated on the device's held-out share: loss, metrics and the summed
 * statistics the fleet's figures pool from; count 0 with the reason when there is nothing to
 * evaluate on or evaluation failed.
 */
export async function evaluationReply(round: RoundMessage, deviceId: string, data: DeviceExamples, task: Task, weights: Float32Array, trainer: Trainer): Promise<PhaseReply> {
  const holdout = data.holdout;
  const result = holdout
    ? await trainer.evaluate({ task, weights, data: holdout }).then(
      (r) => ({ count: r.count, loss: r.loss, metrics: numbers(r.metrics), sums: { ...r.sums } }),
      (e: Error) => ({ count: 0, loss: 0, metrics: {}, sums: {}, error: e.message.slice(0, 256) }))
    : { count: 0, loss: 0, metrics: {}, sums: {}, error: 'no held-out data' };
  const payload = encodeMessage(build.evaluation({ round: round.round, deviceId, globalVersion: round.globalVersion, ...result }));
  return { kind: 'evaluation', payload, count: result.count, loss: result.loss, metrics: result.metrics };
}
