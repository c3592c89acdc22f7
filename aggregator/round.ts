import { DecodeError, RejectReason, decodeMessage, type Codec, type RoundMessage, type UpdateMessage } from '../protocol/index.js';
import type { RoundAggregation } from './strategies/index.js';

/** How a codec's decode error maps to the reason the update is counted under. */
const CODEC_REJECTIONS: Partial<Record<DecodeError['reason'], RejectReason>> = {
  'bad-length': RejectReason.BadLength,
  'non-finite': RejectReason.NonFinite,
  'bad-codec': RejectReason.BadCodec,
  'too-large': RejectReason.TooLarge,
};

export type UpdateVerdict =
  | { accepted: true; update: UpdateMessage }
  | { accepted: false; reason: RejectReason; detail: string; update?: UpdateMessage };

/**
 * One round's collection: which participants reported, what was refused and why, and the
 * running aggregate. Nothing that arrives is trusted: each check below names its reason.
 */
export class RoundCollection {
  readonly reported = new Set<string>();
  /** Participants whose update for this round was refused for its content: not waited for. */
  readonly failed = new Set<string>();
  /** Participants seen offline during the round: their work is lost, even if they come back. */
  readonly departed = new Set<string>();
  readonly rejectedByReason: Record<string, number> = {};
  accepted = 0;
  bytesUp = 0;
  trainMs = 0;
  trainMsMax = 0;
  aggregateMs = 0;
  open = true;
  private readonly selected: Set<string>;

  constructor(
    readonly message: RoundMessage,
    private readonly codec: Codec,
    private readonly aggregation: RoundAggregation,
    private readonly maxUpdateBytes: number,
  ) {
    this.selected = new Set(message.participants);
  }

  get rejected(): number {
    return Object.values(this.rejectedByReason).reduce((a, b) => a + b, 0);
  }

  /**
   * Participants the round still waits for: neither accepted nor refused for a bad update
   * (an agent sends one update a round; waiting for it to the deadline would gain nothing).
   */
  outstanding(): string[] {
    return this.message.participants.filter((id) => !this.reported.has(id) && !this.failed.has(id));
  }

  /** Validates an update that arrived on `update/{topicDeviceId}` and folds it in if good. */
  receive(topicDeviceId: string, payload: Uint8Array): UpdateVerdict {
    this.bytesUp += payload.byteLength;
    const verdict = this.check(topicDeviceId, payload);
    if (!verdict.accepted) {
      this.rejectedByReason[verdict.reason] = (this.rejectedByReason[verdict.reason] ?? 0) + 1;
    }
    return verdict;
  }

  private check(topicDeviceId: string, payload: Uint8Array): UpdateVerdict {
    let update: UpdateMessage;
    try {
      update = decodeMessage('update', payload, { maxBytes: this.maxUpdateBytes });
    } catch (e) {
      const reason = e instanceof DecodeError && e.reason === 'too-large' ? RejectReason.TooLarge : RejectReason.Malformed;
      return { accepted: false, reason, detail: (e as Error).message };
    }
    const reject = (reason: RejectReason, detail: string): UpdateVerdict => ({ accepted: false, reason, detail, update });
    // The topic is the broker-authenticated identity; a payload claiming another is forged.
    if (update.deviceId !== topicDeviceId) return reject(RejectReason.IdMismatch, `payload says ${update.deviceId}`);
    if (update.round !== this.message.round) return reject(RejectReason.WrongRound, `update for round ${update.round}`);
    if (!this.open) return reject(RejectReason.RoundClosed, `round ${update.round} already closed`);
    if (!this.selected.has(update.deviceId)) return reject(RejectReason.NotSelected, `${update.deviceId} was not chosen`);
    // A repeat is ignored, never counted twice toward the aggregate.
    if (this.reported.has(update.deviceId)) return reject(RejectReason.Duplicate, 'second update this round');
    const fail = (reason: RejectReason, detail: string): UpdateVerdict => {
      this.failed.add(update.deviceId);
      return reject(reason, detail);
    };
    if (update.codec !== this.codec.spec) return fail(RejectReason.BadCodec, `codec ${update.codec}, round uses ${this.codec.spec}`);
    const started = performance.now();
    try {
      this.aggregation.add({ deviceId: update.deviceId, numExamples: update.numExamples, codec: this.codec, delta: update.delta });
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      return fail(CODEC_REJECTIONS[e.reason] ?? RejectReason.Malformed, e.message);
    } finally {
      this.aggregateMs += performance.now() - started;
    }
    this.reported.add(update.deviceId);
    this.accepted += 1;
    this.trainMs += update.trainMs;
    this.trainMsMax = Math.max(this.trainMsMax, update.trainMs);
    return { accepted: true, update };
  }

  /**
   * Closes the round and returns the new global, or null to keep the old one. Below quorum
   * the strategy is not asked at all, so stateful servers (momentum, Adam moments) do not
   * take a step that would be thrown away.
   */
  close(quorum: number): Float32Array | null {
    this.open = false;
    if (this.accepted < quorum) return null;
    const started = performance.now();
    const next = this.aggregation.finish(this.outstanding());
    this.aggregateMs += performance.now() - started;
    return next;
  }
}
