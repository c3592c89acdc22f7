import { RejectReason, parseCodec, type MetricsMessage, type RoundMessage, type UpdateMessage } from '../protocol/index.js';

/**
 * Rejection reasons the monitor can tell from traffic alone, named as the aggregator counts
 * them (protocol/rejections.ts). Checks that need the model (length, finiteness) only show up
 * when the round's `metrics` arrive.
 */
export type ObservedReject = Exclude<RejectReason, 'bad-length' | 'non-finite' | 'too-large'>;

/** The current round as the monitor sees it. */
export interface RoundView {
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

/** Follows the open round: who was chosen, who reported, what was refused and why. */
export class RoundTracker {
  private message: RoundMessage | null = null;
  private participants = new Set<string>();
  private readonly reported = new Set<string>();
  private observed: Record<string, number> = {};
  private confirmed: MetricsMessage | null = null;
  private joinedLate = false;
  private startedAt = 0;
  private bytesUp = 0;

  get current(): number | undefined {
    return this.message?.round;
  }

  round(message: RoundMessage, retained: boolean, now: number): void {
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
    } else {
      this.reported.add(topicId);
    }
  }

  metrics(message: MetricsMessage): void {
    if (this.message && message.round === this.message.round) this.confirmed = message;
  }

  view(now: number): RoundView | null {
    const m = this.message;
    if (!m) return null;
    const confirmed = this.confirmed;
    const rejectedByReason = confirmed ? { ...confirmed.rejectedByReason } : { ...this.observed };
    return {
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
      remainingMs: confirmed ? 0 : Math.max(0, m.deadline - now),
      closed: confirmed !== null,
      rejected: Object.values(rejectedByReason).reduce((a, b) => a + b, 0),
      rejectedByReason,
      rejectionsFrom: confirmed ? 'aggregator' : 'traffic',
      joinedLate: this.joinedLate,
      startedAt: this.startedAt,
      bytesUp: confirmed ? confirmed.bytesUp : this.bytesUp,
    };
  }

  /** The aggregator's checks that traffic alone can repeat, in its order (aggregator/round.ts). */
  private check(topicId: string, u: UpdateMessage | null): ObservedReject | null {
    const m = this.message!;
    if (u === null) return RejectReason.Malformed;
    if (u.deviceId !== topicId) return RejectReason.IdMismatch;
    if (u.round !== m.round) return RejectReason.WrongRound;
    if (this.confirmed) return RejectReason.RoundClosed;
    if (!this.participants.has(topicId)) return RejectReason.NotSelected;
    if (this.reported.has(topicId)) return RejectReason.Duplicate;
    if (u.codec !== m.codec && canonical(u.codec) !== canonical(m.codec)) return RejectReason.BadCodec;
    return null;
  }
}

/** The aggregator compares canonical specs (`int8+ef+deflate` is `int8+deflate+ef`). */
function canonical(spec: string): string {
  try {
    return parseCodec(spec).spec;
  } catch {
    return spec;
  }
}
