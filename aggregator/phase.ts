import {
  DEVICE_MESSAGE_TYPES, DecodeError, decodeMessage,
  type EvaluationMessage, type FederatedMetrics, type RoundMessage, type StatisticsMessage, type Spread, type Task,
} from '../protocol/index.js';
import { metricsFromSums, type EvalSums } from '../learning/index.js';
import { combineMoments, featureStatistics } from '../datasets/index.js';

/** What a phase's reply was: kept, ignored (an update, for the training collection), or refused and why. */
export type PhaseVerdict = { kind: 'kept' } | { kind: 'not-mine' } | { kind: 'refused'; detail: string };

/** Largest reply a phase reads: a statistics message of 65,536 features is under 2 MB. */
const MAX_PHASE_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * The replies to one `evaluate` or `statistics` round message: one per participant, from the
 * device its topic names, for this round (and, to evaluate, this global version). Nothing that
 * arrives is trusted: a reply from a device not asked, for another round or version, twice, or
 * with sums that do not fit its count is refused and left out of the fleet's figures.
 */
export class PhaseCollection {
  readonly replies = new Map<string, EvaluationMessage | StatisticsMessage>();
  readonly refused: { deviceId: string; detail: string }[] = [];
  readonly departed = new Set<string>();

  constructor(readonly message: RoundMessage & { kind: 'evaluate' | 'statistics' }) {}

  receive(deviceId: string, payload: Uint8Array): PhaseVerdict {
    let reply: EvaluationMessage | StatisticsMessage;
    try {
      const decoded = decodeMessage(DEVICE_MESSAGE_TYPES, payload, { maxBytes: MAX_PHASE_MESSAGE_BYTES });
      if (decoded.type === 'update') return { kind: 'not-mine' };
      reply = decoded;
    } catch (e) {
      return this.refuse(deviceId, e instanceof DecodeError ? e.message : String(e));
    }
    const m = this.message;
    const wanted = m.kind === 'evaluate' ? 'evaluation' : 'statistics';
    if (reply.type !== wanted) return this.refuse(deviceId, `a ${reply.type} reply to a ${m.kind} round`);
    if (reply.deviceId !== deviceId) return this.refuse(deviceId, `claims to be ${reply.deviceId}`);
    if (reply.round !== m.round) return this.refuse(deviceId, `for round ${reply.round}, not ${m.round}`);
    if (reply.type === 'evaluation' && reply.globalVersion !== m.globalVersion) return this.refuse(deviceId, `evaluated version ${reply.globalVersion}, not ${m.globalVersion}`);
    if (!m.participants.includes(deviceId)) return this.refuse(deviceId, 'was not asked');
    if (this.replies.has(deviceId)) return this.refuse(deviceId, 'replied twice');
    this.replies.set(deviceId, reply);
    return { kind: 'kept' };
  }

  /** Participants that have not replied. */
  outstanding(): string[] {
    return this.message.participants.filter((id) => !this.replies.has(id));
  }

  private refuse(deviceId: string, detail: string): PhaseVerdict {
    if (this.refused.length < 1000) this.refused.push({ deviceId, detail });
    return { kind: 'refused', detail };
  }
}

const SUM_NAMES: (keyof EvalSums)[] = ['loss', 'correct', 'tp', 'fp', 'fn', 'tn', 'squaredError', 'absoluteError'];

/**
 * The fleet's evaluation of a global from its devices' replies: loss and metrics of all their
 * held-out examples pooled (their summed statistics added up, so F1 is the pooled F1, not a
 * mean of F1s), and each metric's spread across devices. Replies whose sums cannot be right
 * for their count (negative, more correct answers than examples) are left out. Null when no
 * device had held-out data.
 */
export function fleetEvaluation(task: Task, globalVersion: number, replies: Iterable<EvaluationMessage | StatisticsMessage>): FederatedMetrics | null {
  const total: EvalSums = { loss: 0, correct: 0, tp: 0, fp: 0, fn: 0, tn: 0, squaredError: 0, absoluteError: 0 };
  let count = 0;
  const perDevice: Record<string, number>[] = [];
  for (const r of replies) {
    if (r.type !== 'evaluation' || r.count === 0) continue;
    const sums = plausibleSums(r);
    if (!sums) continue;
    for (const name of SUM_NAMES) total[name] += sums[name];
    count += r.count;
    const own = metricsFromSums(task, sums, r.count);
    perDevice.push({ loss: own.loss, ...own.metrics } as Record<string, number>);
  }
  if (count === 0) return null;
  const pooled = metricsFromSums(task, total, count);
  const spread: Record<string, Spread> = {};
  for (const name of ['loss', ...task.metrics]) spread[name] = spreadOf(perDevice.map((d) => d[name] as number));
  return { globalVersion, devices: perDevice.length, count, loss: pooled.loss, metrics: pooled.metrics as Record<string, number>, spread };
}

/** A reply's sums, or null when they are missing or cannot describe `count` examples. */
function plausibleSums(r: EvaluationMessage): EvalSums | null {
  const s = r.sums;
  const sums = {} as EvalSums;
  for (const name of SUM_NAMES) {
    const v = s[name] ?? 0;
    if (!(Number.isFinite(v) && v >= 0)) return null;
    sums[name] = v;
  }
  if (sums.correct > r.count || sums.tp + sums.fp + sums.fn + sums.tn > r.count) return null;
  return sums;
}

function spreadOf(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const median = n % 2 === 1 ? (sorted[(n - 1) / 2] as number) : ((sorted[n / 2 - 1] as number) + (sorted[n / 2] as number)) / 2;
  return { min: sorted[0] as number, median, max: sorted[n - 1] as number };
}

/**
 * The fleet's per-feature mean and standard deviation from the devices' moments, exactly the
 * statistics of all their training readings pooled. A feature that does not vary gets std 1
 * (it is only centred). Replies of another feature count are left out. Null when none fits.
 */
export function fleetStatistics(features: number, replies: Iterable<EvaluationMessage | StatisticsMessage>): { devices: number; count: number; mean: number[]; std: number[] } | null {
  const parts = [...replies].filter((r): r is StatisticsMessage => r.type === 'statistics' && r.count.length === features && r.count.some((n) => n > 0));
  if (parts.length === 0) return null;
  const stats = featureStatistics(combineMoments(parts));
  return { devices: parts.length, count: Math.max(...stats.count), mean: stats.mean, std: stats.std.map((s) => (s > 0 ? s : 1)) };
}
