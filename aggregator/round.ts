import { DecodeError, RejectReason, admitCodec, admitSender, admitToRound, decodeMessage, scaledCodec, type Codec, type RoundMessage, type UpdateMessage } from '../protocol/index.js';
import type { RoundReport } from './contract.js';
import type { RoundAggregation, Stateful, StrategyState } from './strategies/index.js';

/** How a codec's decode error maps to the reason the update is counted under. */
const CODEC_REJECTIONS: Partial<Record<DecodeError['reason'], RejectReason>> = {
  'bad-length': RejectReason.BadLength,
  'non-finite': RejectReason.NonFinite,
  'bad-codec': RejectReason.BadCodec,
  'too-large': RejectReason.TooLarge,
};

/**
 * Decodes what arrived on `update/{topicDeviceId}` and checks its sender (protocol/admission.ts:
 * the topic is the broker-authenticated identity, a payload claiming another device is forged).
 */
export function decodeUpdate(topicDeviceId: string, payload: Uint8Array, maxBytes: number): UpdateVerdict {
  let update: UpdateMessage;
  try {
    update = decodeMessage('update', payload, { maxBytes });
  } catch (e) {
    const reason = e instanceof DecodeError && e.reason === 'too-large' ? RejectReason.TooLarge : RejectReason.Malformed;
    return { accepted: false, reason, detail: (e as Error).message };
  }
  const forged = admitSender(topicDeviceId, update);
  if (forged) return { accepted: false, ...forged, update };
  return { accepted: true, update };
}

/**
 * Folds an admitted update's delta, times `scale`, into the aggregation. Returns why it was
 * refused (a codec other than exactly `codec.spec`, bad length, not finite...) with the
 * aggregate untouched, or null.
 */
export function foldUpdate(aggregation: RoundAggregation, codec: Codec, update: UpdateMessage, scale = 1): { accepted: false; reason: RejectReason; detail: string } | null {
  const wrongCodec = admitCodec(codec.spec, update);
  if (wrongCodec) return { accepted: false, ...wrongCodec };
  try {
    aggregation.add({ deviceId: update.deviceId, numExamples: update.numExamples, codec: scale === 1 ? codec : scaledCodec(codec, scale), delta: update.delta });
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    return { accepted: false, reason: CODEC_REJECTIONS[e.reason] ?? RejectReason.Malformed, detail: e.message };
  }
  return null;
}


export type UpdateVerdict =
  | { accepted: true; update: UpdateMessage }
  | { accepted: false; reason: RejectReason; detail: string; update?: UpdateMessage };

/** Why a closed collection kept the global: too few updates, the strategy made no step, or its step was not finite. */
export type KeptGlobal = { reason: 'quorum' | 'no-step' | 'non-finite'; detail: string };

/** What closing a collection gives: the new global, or why the old one stays. */
export type Closing = { next: Float32Array; kept: null } | { next: null; kept: KeptGlobal };

/** The most examples an update from a device counts for (aggregator/registry.ts `examplesCap`). */
export type ExamplesCap = (deviceId: string) => number;

/** Why an update may not enter the aggregate, or the scale it enters with (1 = as sent). */
export type Admission = { reason: RejectReason; detail: string } | { scale: number };

/**
 * Updates gathered toward one new global: what was accepted and refused (by reason), the
 * running aggregate and its costs. Nothing that arrives is trusted: `admit` decides who may
 * contribute (the sync round's participants, or async mode's open assignments), by the rules
 * of protocol/admission.ts that the monitor repeats.
 */
export abstract class UpdateCollection {
  readonly rejectedByReason: Record<string, number> = {};
  accepted = 0;
  bytesUp = 0;
  trainMs = 0;
  trainMsMax = 0;
  aggregateMs = 0;
  open = true;

  constructor(
    protected readonly codec: Codec,
    private readonly aggregation: RoundAggregation,
    private readonly maxUpdateBytes: number,
    /** A device's claim of its example count is cut to this (by default, taken as sent). */
    private readonly examplesCap: ExamplesCap = () => Infinity,
  ) {}

  get rejected(): number {
    return Object.values(this.rejectedByReason).reduce((a, b) => a + b, 0);
  }

  /** What a round report says of the updates: verdicts, bytes and times. */
  counts(): Pick<RoundReport, 'accepted' | 'rejected' | 'rejectedByReason' | 'bytesUp' | 'trainMs' | 'trainMsMax' | 'aggregateMs'> {
    return {
      accepted: this.accepted, rejected: this.rejected, rejectedByReason: { ...this.rejectedByReason },
      bytesUp: this.bytesUp, trainMs: this.trainMs, trainMsMax: this.trainMsMax, aggregateMs: this.aggregateMs,
    };
  }

  /** Checks a decoded update's round and sender; may scale what it contributes. */
  protected abstract admit(update: UpdateMessage): Admission;
  /** The update was accepted (`failed` false) or refused for its content (`failed` true). */
  protected abstract settled(update: UpdateMessage, failed: boolean): void;
  /** Participants the aggregation is told did not report. */
  protected abstract failures(): string[];

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
    const decoded = decodeUpdate(topicDeviceId, payload, this.maxUpdateBytes);
    if (!decoded.accepted) return decoded;
    const update = decoded.update;
    const admission = this.admit(update);
    if ('reason' in admission) return { accepted: false, ...admission, update };
    // A sync round's admission already said so; an async buffer being closed says it here.
    if (!this.open) return { accepted: false, reason: RejectReason.RoundClosed, detail: `round ${update.round} already closed`, update };
    const started = performance.now();
    // FedAvg weighs an update by its claimed example count: no more than the device declared on joining.
    const numExamples = Math.min(update.numExamples, this.examplesCap(update.deviceId));
    const refused = foldUpdate(this.aggregation, this.codec, numExamples === update.numExamples ? update : { ...update, numExamples }, admission.scale);
    this.aggregateMs += performance.now() - started;
    this.settled(update, refused !== null);
    if (refused) return { ...refused, update };
    this.accepted += 1;
    this.trainMs += update.trainMs;
    this.trainMsMax = Math.max(this.trainMsMax, update.trainMs);
    return { accepted: true, update };
  }

  /**
   * Closes the collection: the new global, or why the old one stays. Below quorum the strategy
   * is not asked at all, so stateful servers (momentum, Adam moments) do not take a step that
   * would be thrown away. A step that is not finite everywhere (weights or the strategy's
   * state) is thrown away: `state`, the strategy, is put back as it was before `finish`, so a
   * poisoned round leaves neither the global nor the server's momentum behind.
   */
  close(quorum: number, state?: Stateful): Closing {
    this.open = false;
    if (this.accepted < quorum) return { next: null, kept: { reason: 'quorum', detail: `${this.accepted} update(s) accepted, quorum ${quorum}` } };
    const started = performance.now();
    const before = state?.saveState();
    const next = this.aggregation.finish(this.failures());
    let closing: Closing;
    if (next === null) {
      closing = { next: null, kept: { reason: 'no-step', detail: 'the strategy kept the global' } };
    } else {
      const bad = countNonFinite(next);
      const badState = state ? nonFiniteState(state.saveState()) : null;
      if (bad === 0 && badState === null) {
        closing = { next, kept: null };
      } else {
        if (state && before) state.loadState(before);
        const what = bad > 0 ? `${bad} of ${next.length} weights` : `strategy state ${badState}`;
        closing = { next: null, kept: { reason: 'non-finite', detail: `the aggregate is not finite (${what}); the global and the strategy's state are kept` } };
      }
    }
    this.aggregateMs += performance.now() - started;
    return closing;
  }
}

function countNonFinite(values: Float32Array): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) n++;
  return n;
}

/** The name of a state array holding a value that is not finite, or null. */
function nonFiniteState(state: StrategyState): string | null {
  for (const [name, values] of Object.entries(state)) {
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return name;
  }
  return null;
}

/** One synchronous round's collection: its participants, each reporting once. */
export class RoundCollection extends UpdateCollection {
  readonly reported = new Set<string>();
  /** Participants whose update for this round was refused for its content: not waited for. */
  readonly failed = new Set<string>();
  /** Participants seen offline during the round: their work is lost, even if they come back. */
  readonly departed = new Set<string>();
  private readonly selected: Set<string>;

  constructor(readonly message: RoundMessage, codec: Codec, aggregation: RoundAggregation, maxUpdateBytes: number, examplesCap?: ExamplesCap) {
    super(codec, aggregation, maxUpdateBytes, examplesCap);
    this.selected = new Set(message.participants);
  }

  /**
   * Participants the round still waits for: neither accepted nor refused for a bad update
   * (an agent sends one update a round; waiting for it to the deadline would gain nothing).
   */
  outstanding(): string[] {
    return this.message.participants.filter((id) => !this.reported.has(id) && !this.failed.has(id));
  }

  protected admit(update: UpdateMessage): Admission {
    const round = { round: this.message.round, participants: this.selected, reported: this.reported, closed: !this.open };
    return admitToRound(round, update) ?? { scale: 1 };
  }

  protected settled(update: UpdateMessage, failed: boolean): void {
    (failed ? this.failed : this.reported).add(update.deviceId);
  }

  protected failures(): string[] {
    return this.outstanding();
  }
}
