import {
  RejectReason,
  admitToDispatch,
  admitToRound,
  admitUpdate,
  type AdmissionReason,
  type EvaluationMessage,
  type MetricsMessage,
  type RoundMessage,
  type StatisticsMessage,
  type UpdateMessage,
} from '../protocol/index.js';

/**
 * Rejection reasons the monitor can tell from traffic alone, named as the aggregator counts
 * them (protocol/rejections.ts): an undecodable payload, or the aggregator's own admission
 * rules (protocol/admission.ts). Checks that need the model (length, finiteness) only show up
 * when the round's `metrics` arrive.
 */
export type ObservedReject = AdmissionReason | typeof RejectReason.Malformed;

/**
 * The current round as the monitor sees it. In async mode (FedBuff) it is the next global
 * being filled: `round` is that global's number, `expected` the buffer size K, `received` the
 * good updates toward it, `participants` and `pending` the devices training now, `deadline`
 * the latest dispatch's.
 */
export interface RoundView {
  mode: 'sync' | 'async';
  round: number;
  globalVersion: number;
  codec: string;
  epochs: number;
  batchSize: number;
  lr: number;
  participants: string[];
  /** Participants selected: the updates the round waits for. */
  expected: number;
  /** Participants whose update arrived and passed the checks the monitor can make. */
  received: number;
  /** Participants still to report. */
  pending: string[];
  /** Unix ms after which the aggregator refuses updates. */
  deadline: number;
  /** Milliseconds to the deadline (0 once passed). */
  remainingMs: number;
  /** The aggregator published the round's metrics. */
  closed: boolean;
  rejected: number;
  rejectedByReason: Record<string, number>;
  /** `traffic` while open (the monitor's own checks); `aggregator` once its metrics arrive. */
  rejectionsFrom: 'traffic' | 'aggregator';
  /** The monitor attached during the round (retained round message): earlier updates were missed. */
  joinedLate: boolean;
  /** Monitor time the round message arrived. */
  startedAt: number;
  /** Update payload bytes seen this round. */
  bytesUp: number;
}

/**
 * A round message that asks for something other than training: `evaluate` (the new global on
 * the participants' held-out data, after round `round` closed) or `statistics` (of their
 * features, before round 1). It is a phase of a round, not a new training round.
 */
export interface PhaseView {
  kind: 'evaluate' | 'statistics';
  round: number;
  /** The global evaluated (`evaluate`), or the one the run starts from. */
  globalVersion: number;
  participants: string[];
  /** Answers the phase waits for: one per participant. */
  expected: number;
  /** Participants whose answer (an `evaluation` or `statistics` message of this phase) arrived. */
  received: number;
  pending: string[];
  deadline: number;
  /** Milliseconds to the phase's deadline (0 once passed or done). */
  remainingMs: number;
  /** Every participant answered, or the aggregator published what it made of the answers (metrics with this global's federated evaluation; the task with the fleet's statistics). */
  done: boolean;
  /** The monitor attached during the phase (retained round message): earlier answers were missed. */
  joinedLate: boolean;
  startedAt: number;
}

interface Phase {
  message: RoundMessage & { kind: 'evaluate' | 'statistics' };
  participants: Set<string>;
  reported: Set<string>;
  done: boolean;
  joinedLate: boolean;
  startedAt: number;
  arrived: { at: number; retained: boolean };
}

/** Follows the open round: who was chosen, who reported, what was refused and why. */
export class RoundTracker {
  private mode: 'sync' | 'async' = 'sync';
  private buffer = 1;
  /** Async mode: each device training now, with the dispatch it reports under. */
  private readonly assigned = new Map<string, number>();
  /** Async mode: each device's last good update's dispatch, to tell a repeat. */
  private readonly lastReported = new Map<string, number>();
  private globals = 0;
  private asyncReceived = 0;
  private message: RoundMessage | null = null;
  private participants = new Set<string>();
  private readonly reported = new Set<string>();
  private observed: Record<string, number> = {};
  private confirmed: MetricsMessage | null = null;
  private joinedLate = false;
  private startedAt = 0;
  private bytesUp = 0;
  /** When the latest round message arrived (monitor time) and whether it was a retained copy. */
  private arrived = { at: 0, retained: false };
  /** The evaluate or statistics phase announced after the training round (or before round 1). */
  private phase: Phase | null = null;

  get current(): number | undefined {
    return this.message?.round;
  }

  /**
   * The task says how the aggregator runs; async mode changes what a round message is. A
   * `fresh` task (published live, not retained) starts a new run: async counts start over.
   */
  setMode(mode: 'sync' | 'async', buffer: number, fresh: boolean): void {
    if (fresh) {
      this.assigned.clear();
      this.lastReported.clear();
      this.globals = 0;
      this.asyncReceived = 0;
    }
    // A retained dispatch may have arrived before the retained task: its devices are training.
    if (mode === 'async' && this.mode === 'sync' && this.message) for (const id of this.message.participants) this.assigned.set(id, this.message.round);
    this.mode = mode;
    this.buffer = buffer;
  }

  round(message: RoundMessage, retained: boolean, now: number): void {
    const kind = message.kind ?? 'train';
    if (kind !== 'train') {
      this.startPhase({ ...message, kind }, retained, now);
      return;
    }
    // Training moved on (or started over): the statistics before round 1, or (sync) the evaluation of a round's global, is over.
    // Async dispatches go on while the fleet evaluates: there the next phase message replaces it.
    const p = this.phase;
    if (p && (p.message.kind === 'statistics' || (this.mode === 'sync' && message.round !== p.message.round))) this.phase = null;
    this.arrived = { at: now, retained };
    if (this.mode === 'async') {
      // A dispatch: these devices now train toward the global being filled.
      for (const id of message.participants) this.assigned.set(id, message.round);
      if (this.message === null) {
        this.joinedLate = retained;
        this.startedAt = now;
      }
      this.message = message;
      return;
    }
    // A repeated round message (retained again after a reconnect) keeps what was counted.
    if (this.message?.round === message.round) {
      this.message = message;
      return;
    }
    this.message = message;
    this.participants = new Set(message.participants);
    this.reported.clear();
    this.observed = {};
    this.confirmed = null;
    this.joinedLate = retained;
    this.startedAt = now;
    this.bytesUp = 0;
  }

  /** An update on `update/{topicId}`: `message` is null when it could not be decoded. */
  update(topicId: string, message: UpdateMessage | null, bytes: number): void {
    if (!this.message) return;
    this.bytesUp += bytes;
    const reason = this.check(topicId, message);
    if (reason) {
      this.observed[reason] = (this.observed[reason] ?? 0) + 1;
    } else if (this.mode === 'async') {
      this.assigned.delete(topicId);
      this.lastReported.set(topicId, message!.round);
      this.asyncReceived += 1;
    } else {
      this.reported.add(topicId);
    }
  }

  /** An `evaluation` on `update/{topicId}`: counts toward the evaluate phase it answers. */
  evaluation(topicId: string, message: EvaluationMessage): void {
    const p = this.phase;
    if (p?.message.kind !== 'evaluate') return;
    if (message.deviceId === topicId && message.round === p.message.round && message.globalVersion === p.message.globalVersion && p.participants.has(topicId)) {
      p.reported.add(topicId);
    }
  }

  /** A `statistics` message on `update/{topicId}`: counts toward the statistics phase it answers. */
  statistics(topicId: string, message: StatisticsMessage): void {
    const p = this.phase;
    if (p?.message.kind !== 'statistics') return;
    if (message.deviceId === topicId && message.round === p.message.round && p.participants.has(topicId)) p.reported.add(topicId);
  }

  /** The task was published again with the fleet's standardisation statistics: the statistics phase is over. */
  statisticsApplied(): void {
    if (this.phase?.message.kind === 'statistics') this.phase.done = true;
  }

  phaseView(now: number): PhaseView | null {
    const p = this.phase;
    if (!p) return null;
    const m = p.message;
    const done = p.done || p.reported.size >= p.participants.size;
    return {
      kind: m.kind, round: m.round, globalVersion: m.globalVersion, participants: [...m.participants], expected: m.participants.length,
      received: p.reported.size, pending: m.participants.filter((id) => !p.reported.has(id)), deadline: m.deadline,
      remainingMs: done ? 0 : remainingMs(m, p.arrived, now), done, joinedLate: p.joinedLate, startedAt: p.startedAt,
    };
  }

  metrics(message: MetricsMessage): void {
    // The aggregator reported the fleet's evaluation of the phase's global: the phase is over.
    const p = this.phase;
    if (p?.message.kind === 'evaluate' && message.federated && message.federated.globalVersion >= p.message.globalVersion) p.done = true;
    if (this.mode === 'async') {
      // A global was made of `accepted` updates; any that came in after it filled count toward the next.
      this.globals = message.round;
      this.asyncReceived = Math.max(0, this.asyncReceived - message.accepted);
      this.observed = {};
      this.bytesUp = 0;
      return;
    }
    if (this.message && message.round === this.message.round) this.confirmed = message;
  }

  view(now: number): RoundView | null {
    const m = this.message;
    if (!m) return null;
    if (this.mode === 'async') {
      const training = [...this.assigned.keys()].sort();
      return {
        mode: 'async', round: this.globals + 1, globalVersion: m.globalVersion, codec: m.codec, epochs: m.epochs, batchSize: m.batchSize, lr: m.lr,
        participants: training, expected: this.buffer, received: this.asyncReceived, pending: training,
        deadline: m.deadline, remainingMs: this.remainingMs(now), closed: false,
        rejected: Object.values(this.observed).reduce((a, b) => a + b, 0), rejectedByReason: { ...this.observed },
        rejectionsFrom: 'traffic', joinedLate: this.joinedLate, startedAt: this.startedAt, bytesUp: this.bytesUp,
      };
    }
    const confirmed = this.confirmed;
    const rejectedByReason = confirmed ? { ...confirmed.rejectedByReason } : { ...this.observed };
    return {
      mode: 'sync',
      round: m.round,
      globalVersion: m.globalVersion,
      codec: m.codec,
      epochs: m.epochs,
      batchSize: m.batchSize,
      lr: m.lr,
      participants: [...m.participants],
      expected: m.participants.length,
      received: confirmed ? Math.max(confirmed.accepted, this.reported.size) : this.reported.size,
      pending: m.participants.filter((id) => !this.reported.has(id)),
      deadline: m.deadline,
      // The round's evaluation began: the aggregator stopped collecting updates.
      remainingMs: confirmed || this.evaluating() ? 0 : this.remainingMs(now),
      closed: confirmed !== null,
      rejected: Object.values(rejectedByReason).reduce((a, b) => a + b, 0),
      rejectedByReason,
      rejectionsFrom: confirmed ? 'aggregator' : 'traffic',
      joinedLate: this.joinedLate,
      startedAt: this.startedAt,
      bytesUp: confirmed ? confirmed.bytesUp : this.bytesUp,
    };
  }

  /** Time left in the latest training round message (see {@link remainingMs}). */
  private remainingMs(now: number): number {
    return remainingMs(this.message!, this.arrived, now);
  }

  /** Sync: the open round's global is being evaluated, so the aggregator took its updates. */
  private evaluating(): boolean {
    return this.mode === 'sync' && this.phase?.message.kind === 'evaluate' && this.phase.message.round === this.message?.round;
  }

  private startPhase(message: Phase['message'], retained: boolean, now: number): void {
    const p = this.phase;
    // A repeated phase message (retained again after a reconnect) keeps what was counted.
    if (p && p.message.kind === message.kind && p.message.round === message.round && p.message.globalVersion === message.globalVersion) {
      p.message = message;
      p.arrived = { at: now, retained };
      return;
    }
    this.phase = {
      message, participants: new Set(message.participants), reported: new Set(), done: false,
      joinedLate: retained, startedAt: now, arrived: { at: now, retained },
    };
  }

  /**
   * The aggregator's checks that traffic alone can repeat, by the same rules
   * (protocol/admission.ts): decode, sender, who may contribute (the sync round, or the
   * device's async dispatch), then codec.
   */
  private check(topicId: string, u: UpdateMessage | null): ObservedReject | null {
    if (u === null) return RejectReason.Malformed;
    const m = this.message!;
    const contributes = this.mode === 'async'
      ? () => admitToDispatch({ open: this.assigned.get(topicId), lastReported: this.lastReported.get(topicId) }, u)
      : () => admitToRound({ round: m.round, participants: this.participants, reported: this.reported, closed: this.confirmed !== null || this.evaluating() }, u);
    return admitUpdate(topicId, u, contributes, m.codec)?.reason ?? null;
  }
}

/**
 * Time left in a round message. It gives `deadline - issuedAt` on the aggregator's clock (a
 * simulation's is simulated, a device's may be off): counted down from the message's arrival,
 * that does not depend on this machine's clock agreeing. A retained copy may have been sent long
 * before it arrived, so for it (and for an aggregator that sends no `issuedAt`) the deadline is
 * read against this machine's clock, no more than the round gives.
 */
function remainingMs(m: RoundMessage, arrived: { at: number; retained: boolean }, now: number): number {
  const given = m.issuedAt === undefined ? Infinity : m.deadline - m.issuedAt;
  const left = arrived.retained || m.issuedAt === undefined ? Math.min(given, m.deadline - now) : given - (now - arrived.at);
  return Math.max(0, left);
}
