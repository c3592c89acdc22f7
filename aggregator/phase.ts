import {
  DEVICE_MESSAGE_TYPES, decodeMessage,
  TASK_LIMITS, type EvaluationMessage, type FederatedMetrics, type RoundMessage, type StatisticsMessage, type Spread, type Task,
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
  readonly departed = new Set<string>();
  /** Cleared when the phase ends; replies that come after are refused as late. */
  open = true;

  constructor(readonly message: RoundMessage & { kind: 'evaluate' | 'statistics' }) {}

  /**
   * An evaluation or statistics reply is the phase's to judge; anything else (an update, a
   * payload too large or not CBOR) is `not-mine`, for the round's update collection to judge
   * and count.
   */
  receive(deviceId: string, payload: Uint8Array): PhaseVerdict {
    if (payload.byteLength > MAX_PHASE_MESSAGE_BYTES) return { kind: 'not-mine' };
    let reply: EvaluationMessage | StatisticsMessage;
    try {
      const decoded = decodeMessage(DEVICE_MESSAGE_TYPES, payload, { maxBytes: MAX_PHASE_MESSAGE_BYTES });
      // An update, a sync or a secure-aggregation step (protocol/secagg.ts) is not a phase's reply.
      if (decoded.type !== 'evaluation' && decoded.type !== 'statistics') return { kind: 'not-mine' };
      reply = decoded;
    } catch {
      // Not a valid reply: the update collection judges it (and counts it malformed).
      return { kind: 'not-mine' };
    }
    const m = this.message;
    if (!this.open) return { kind: 'refused', detail: `a ${reply.type} reply for round ${reply.round} after the ${m.kind} phase closed` };
    const wanted = m.kind === 'evaluate' ? 'evaluation' : 'statistics';
    if (reply.type !== wanted) return this.refuse(`a ${reply.type} reply to a ${m.kind} round`);
    if (reply.deviceId !== deviceId) return this.refuse(`claims to be ${reply.deviceId}`);
    if (reply.round !== m.round) return this.refuse(`for round ${reply.round}, not ${m.round}`);
    if (reply.type === 'evaluation' && reply.globalVersion !== m.globalVersion) return this.refuse(`evaluated version ${reply.globalVersion}, not ${m.globalVersion}`);
    if (!m.participants.includes(deviceId)) return this.refuse('was not asked');
    if (this.replies.has(deviceId)) return this.refuse('replied twice');
    this.replies.set(deviceId, reply);
    return { kind: 'kept' };
  }

  private refuse(detail: string): PhaseVerdict {
    return { kind: 'refused', detail };
  }

  /** Participants that have not replied. */
  outstanding(): string[] {
    return this.message.participants.filter((id) => !this.replies.has(id));
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
    // A device with nothing to find (no positives, no positive predictions) has no precision,
    // recall or F1 to speak of: it is left out of those metrics' spread, not counted as 0.
    const defined = Object.entries(own.metrics).filter(([name]) => definedOn(name, sums));
    perDevice.push({ loss: own.loss, ...Object.fromEntries(defined) } as Record<string, number>);
  }
  if (count === 0) return null;
  const pooled = metricsFromSums(task, total, count);
  const spread: Record<string, Spread> = {};
  for (const name of ['loss', ...task.metrics]) {
    const values = perDevice.flatMap((d) => (d[name] === undefined ? [] : [d[name]]));
    if (values.length > 0) spread[name] = spreadOf(values);
  }
  return { globalVersion, devices: perDevice.length, count, loss: pooled.loss, metrics: pooled.metrics as Record<string, number>, spread };
}

/** Whether a ratio metric has a denominator on these sums (precision: predicted positives; recall: actual positives). */
function definedOn(name: string, s: EvalSums): boolean {
  if (name === 'precision') return s.tp + s.fp > 0;
  if (name === 'recall') return s.tp + s.fn > 0;
  if (name === 'f1') return s.tp + s.fp + s.fn > 0;
  return true;
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

/** Most readings one device may claim: more would let one device outweigh any fleet. */
const MAX_READINGS = 1e9;

/**
 * Moments that real numbers could have: counts within bounds, and per feature n * sum of
 * squares >= sum^2 (Cauchy-Schwarz), with a mean inside a task's bounds. A device can still
 * lie within these (docs/security.md); it cannot make the fleet's statistics infinite.
 */
function plausibleMoments(r: StatisticsMessage): boolean {
  return r.count.every((n, f) => {
    if (n > MAX_READINGS) return false;
    if (n === 0) return r.sum[f] === 0 && r.sumSquares[f] === 0;
    const sum = r.sum[f] as number;
    const squares = r.sumSquares[f] as number;
    return Math.abs(sum / n) <= TASK_LIMITS.maxMeanAbs && Number.isFinite(squares * n) && squares * n >= sum * sum * (1 - 1e-9);
  });
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
  const parts = [...replies].filter((r): r is StatisticsMessage => r.type === 'statistics' && r.count.length === features && r.count.some((n) => n > 0) && plausibleMoments(r));
  if (parts.length === 0) return null;
  const stats = featureStatistics(combineMoments(parts));
  return { devices: parts.length, count: Math.max(...stats.count), mean: stats.mean, std: stats.std.map((s) => (s > 0 ? s : 1)) };
}
