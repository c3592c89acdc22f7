import {
  DecodeError, DecodeReason, Rng, SECAGG_AGGREGATOR_TYPES, decodeMessage, encodeMessage,
  type RoundMessage, type SecAggAggregatorWireMessage, type TaskSecAgg,
} from '../protocol/index.js';
import {
  SecAggDevice, clipToNorm, quantizeForSecAgg, secaggFromWire, secaggQuantizer, secaggToWire,
  type SecAggShareDelivery,
} from '../privacy/index.js';
import { MessageRefusedError } from './errors.js';

/** The device's protocol steps, as `secaggStep` events tell them. */
export type SecAggStep = 'keys' | 'shares' | 'masked' | 'unmask';

/** What a session needs of its agent. */
export interface SecAggSessionIo {
  /** Publishes on the device's `update/{id}` (QoS 1). */
  publish(payload: Uint8Array): Promise<void>;
  /** A refused message or a failed step: the session ends, revealing nothing more. */
  warn(error: Error): void;
  /** The device leaves the round (says offline, then online), so the aggregator stops waiting for it. */
  leave(): Promise<void>;
  step(info: { round: number; step: SecAggStep; bytes: number }): void;
}

/** What becomes of a supplied update: sent, or (a simulated dropout) masked and withheld. */
export interface SupplyOutcome {
  drop: boolean;
  sent(bytes: number): void;
  dropped(): void;
}

/** Bytes of a masked input on the wire beyond its 4 bytes a word (CBOR map, ids, tags). */
const MASKED_OVERHEAD = 128;

/** About the bytes a masked input of `words` words takes on the wire (for a simulator's clock). */
export function maskedBytes(words: number): number {
  return 4 * words + MASKED_OVERHEAD;
}

/**
 * One device's side of a `--secagg` training round (SecAgg+, privacy/secagg/) over MQTT: it
 * sends its keys as soon as the round chose it, answers the aggregator's setup with encrypted
 * shares for its neighbours while it trains, and, once both its update is ready and the shares
 * addressed to it arrived, sends the update quantized (task.secagg: the per-coordinate clip,
 * the round's participant count) and masked; then answers the unmask request. The aggregator's
 * messages come on `to/{id}`. Any refused step ends the session: the device leaves the round.
 */
export class SecAggSession {
  private readonly device: SecAggDevice;
  private delivery: SecAggShareDelivery | null = null;
  private pending: { input: Uint32Array; then: SupplyOutcome } | null = null;
  private ended = false;

  constructor(
    readonly round: RoundMessage,
    private readonly deviceId: string,
    fleet: string,
    private readonly settings: TaskSecAgg,
    private readonly io: SecAggSessionIo,
  ) {
    this.device = new SecAggDevice({ fleet, round: round.round, id: deviceId });
  }

  /** Round 0: the device's two public keys. */
  async start(): Promise<void> {
    await this.send('keys', encodeMessage(secaggToWire.keys(this.device.advertise())));
  }

  /** Ends the session (a newer round, the agent stopping): nothing more goes out. */
  abandon(): void {
    this.ended = true;
    this.pending = null;
  }

  /**
   * The update as it would be masked: clipped to `normClip` in L2 (central DP), then each
   * coordinate to [-clip, clip], rounded stochastically into Z_2^32 for the round's n.
   */
  quantize(delta: Float32Array): Uint32Array {
    if (this.settings.normClip !== undefined) clipToNorm(delta, this.settings.normClip);
    const rng = Rng.derive(this.round.seed, 'secagg', this.deviceId);
    return quantizeForSecAgg(delta, secaggQuantizer(this.settings.clip, this.round.participants.length), () => rng.next());
  }

  /**
   * The quantized update is ready: it is masked once the shares addressed to this device
   * arrived, and goes out (`then.sent`); or, a simulated dropout (`then.drop`), the device
   * masks it and leaves instead (`then.dropped`).
   */
  supply(input: Uint32Array, then: SupplyOutcome): void {
    if (this.ended) return;
    this.pending = { input, then };
    void this.maybeMask();
  }

  /**
   * A message on `to/{id}`: true when it is a secure-aggregation step (handled, or refused with
   * a warning), false for anything else (a catch-up).
   */
  receive(payload: Uint8Array): boolean {
    let m: SecAggAggregatorWireMessage;
    try {
      m = decodeMessage(SECAGG_AGGREGATOR_TYPES, payload);
    } catch (e) {
      if (e instanceof DecodeError && (e.reason === DecodeReason.BadType || e.reason === DecodeReason.Malformed)) return false;
      void this.fail(e as Error);
      return true;
    }
    if (this.ended || m.round !== this.round.round || m.deviceId !== this.deviceId) {
      this.io.warn(new MessageRefusedError('to', `a ${m.type} for ${m.deviceId} in round ${m.round}, not this device's open secure round`));
      return true;
    }
    if (m.type === 'secaggSetup') void this.share(m);
    else if (m.type === 'secaggShareDelivery') {
      this.delivery = secaggFromWire.shareDelivery(m);
      void this.maybeMask();
    } else void this.answer(m);
    return true;
  }

  private async share(m: Extract<SecAggAggregatorWireMessage, { type: 'secaggSetup' }>): Promise<void> {
    try {
      const shares = await this.device.share(secaggFromWire.setup(m));
      await this.send('shares', encodeMessage(secaggToWire.shares(shares)));
    } catch (e) {
      await this.fail(e as Error);
    }
  }

  private async maybeMask(): Promise<void> {
    const pending = this.pending;
    const delivery = this.delivery;
    if (!pending || !delivery || this.ended) return;
    this.pending = null;
    try {
      const payload = encodeMessage(secaggToWire.masked(this.device.mask(delivery, pending.input)));
      if (pending.then.drop) {
        this.abandon();
        return pending.then.dropped();
      }
      await this.send('masked', payload);
      pending.then.sent(payload.byteLength);
    } catch (e) {
      await this.fail(e as Error);
    }
  }

  private async answer(m: Extract<SecAggAggregatorWireMessage, { type: 'secaggUnmaskRequest' }>): Promise<void> {
    try {
      await this.send('unmask', encodeMessage(secaggToWire.unmaskResponse(this.device.unmask(secaggFromWire.unmaskRequest(m)))));
      this.ended = true;
    } catch (e) {
      await this.fail(e as Error);
    }
  }

  private async send(step: SecAggStep, payload: Uint8Array): Promise<void> {
    if (this.ended) return;
    await this.io.publish(payload);
    this.io.step({ round: this.round.round, step, bytes: payload.byteLength });
  }

  private async fail(error: Error): Promise<void> {
    if (this.ended) return;
    this.abandon();
    this.io.warn(error instanceof MessageRefusedError ? error : new MessageRefusedError('to', `secure aggregation, round ${this.round.round}: ${error.message}`, { cause: error }));
    await this.io.leave().catch((e: Error) => this.io.warn(e));
  }
}
