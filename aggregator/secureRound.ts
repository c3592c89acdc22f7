import {
  DEFAULT_MAX_MESSAGE_BYTES, DecodeError, DecodeReason, RejectReason, Rng, SECAGG_DEVICE_TYPES, decodeMessage, encodeMessage, f32Codec,
  type RoundMessage, type SecAggDeviceWireMessage,
} from '../protocol/index.js';
import {
  SecAggError, SecAggServer, dequantizeSum, secaggFromWire, secaggQuantizer, secaggToWire,
  type RoundSampling, type SecAggResult, type SecAggRoundParams,
} from '../privacy/index.js';
import type { RoundReport } from './contract.js';
import { RoundCollection, type Closing } from './round.js';
import type { DpFedAvg } from './strategies/dpFedAvg.js';
import type { Strategy } from './strategies/index.js';

/** The one "update" the strategy sees: the mean of the round's unmasked sum. */
export const SECAGG_MEAN_ID = 'secagg-mean';

/** What a `--secagg` round needs of the coordinator: its clock, waits, registry and publishing. */
export interface SecureRoundHost {
  now(): number;
  /** Sleeps until `at`, or until a message arrives (the coordinator's `wake`). */
  sleepUntil(at: number): Promise<void>;
  stopped(): boolean;
  isOnline(deviceId: string): boolean;
  /** Publishes on `to/{deviceId}` (not retained). */
  send(deviceId: string, payload: Uint8Array): Promise<void>;
  /** A masked input was summed (the coordinator tells `updateAccepted`). */
  accepted(deviceId: string, bytes: number): void;
  /** A secure-aggregation message was refused (the coordinator tells `updateRejected`). */
  refused(deviceId: string, reason: RejectReason, detail: string): void;
}

export interface SecureRoundSettings {
  fleet: string;
  /** Per-coordinate clip of the quantization (task.secagg.clip). */
  clip: number;
  /** Each protocol phase's time after the one before (keys, shares, unmask; masked inputs have the round's deadline). */
  phaseMs: number;
  /** Applied to the mean of the unmasked sum (under central DP, DP-FedAvg's inner strategy). */
  strategy: Strategy;
  /** The weights the strategy steps from. */
  global: Float32Array;
  /** Central DP: the sum is noised (the devices clipped their updates) and divided by the selected count. */
  dp?: { strategy: DpFedAvg; sampling: RoundSampling };
}

/** How a secure round went, for the `secureRound` event and the report. */
export interface SecureRoundSummary {
  round: number;
  params: SecAggRoundParams | null;
  /** Devices whose masked input is in the sum. */
  survivors: number;
  /** Devices that shared their secrets but whose masked input never came. */
  dropped: number;
  /** Why the round's sum could not be recovered (too few devices or shares), or null. */
  failure: string | null;
}

/**
 * One synchronous training round under `--secagg` (SecAgg+, privacy/secagg/): keys, shares,
 * masked inputs and unmasking carried over MQTT (protocol/secagg.ts). The aggregator routes
 * encrypted shares it cannot read and folds each masked input into one running sum
 * (`SecAggServer`); it holds no individual update at any time, only that sum, and, once the
 * survivors' shares remove the masks, the sum of the survivors' quantized updates. Its mean
 * (DP: noised, over the selected count) goes to the strategy as the round's only update.
 */
export class SecureRound extends RoundCollection {
  readonly server: SecAggServer;
  private readonly seen = { keys: new Set<string>(), shares: new Set<string>(), masked: new Set<string>(), unmask: new Set<string>() };
  private asked = new Set<string>();
  private result: SecAggResult | null = null;
  private failure: string | null = null;

  constructor(message: RoundMessage, private readonly settings: SecureRoundSettings, private readonly host: SecureRoundHost) {
    const late: { finish?: (failures: string[]) => Float32Array | null } = {};
    super(message, f32Codec, {
      add: () => {
        throw new DecodeError(DecodeReason.BadCodec, 'a plain update in a secure-aggregation round: devices send masked inputs (secaggMasked)');
      },
      finish: (failures) => late.finish!(failures),
    }, DEFAULT_MAX_MESSAGE_BYTES);
    late.finish = (failures) => this.aggregate(failures);
    this.server = new SecAggServer({ fleet: settings.fleet, round: message.round, vectorLength: settings.global.length });
  }

  /** What the round did (after `run`). */
  get summary(): SecureRoundSummary {
    return {
      round: this.message.round, params: this.server.params ?? null, survivors: this.result?.survivors.length ?? 0,
      dropped: this.result?.dropped.length ?? 0, failure: this.failure,
    };
  }

  /**
   * A message on `update/{deviceId}`: true when it is a secure-aggregation step (taken or
   * refused), false for anything else (an update, a reply, a payload that is not CBOR), which
   * the coordinator judges as before.
   */
  take(deviceId: string, payload: Uint8Array): boolean {
    let m: SecAggDeviceWireMessage;
    try {
      m = decodeMessage(SECAGG_DEVICE_TYPES, payload);
    } catch (e) {
      if (!(e instanceof DecodeError) || e.reason === DecodeReason.BadType || e.reason === DecodeReason.Malformed || e.reason === DecodeReason.TooLarge) return false;
      this.refuse(deviceId, RejectReason.Malformed, e.message);
      return true;
    }
    this.bytesUp += payload.byteLength;
    if (m.deviceId !== deviceId) return this.refuse(deviceId, RejectReason.IdMismatch, `a ${m.type} claiming to be ${m.deviceId}`);
    if (m.round !== this.message.round) return this.refuse(deviceId, RejectReason.WrongRound, `a ${m.type} for round ${m.round}, not ${this.message.round}`);
    if (!this.message.participants.includes(deviceId)) return this.refuse(deviceId, RejectReason.NotSelected, `a ${m.type} from a device the round did not choose`);
    try {
      if (m.type === 'secaggKeys') {
        this.server.receiveKeys(secaggFromWire.keys(m));
        this.seen.keys.add(deviceId);
      } else if (m.type === 'secaggShares') {
        this.server.receiveShares(secaggFromWire.shares(m));
        this.seen.shares.add(deviceId);
      } else if (m.type === 'secaggMasked') {
        // Folded into the running sum at once; the masked vector itself is not kept.
        this.server.receiveMasked(secaggFromWire.masked(m));
        this.seen.masked.add(deviceId);
        this.host.accepted(deviceId, payload.byteLength);
      } else {
        this.server.receiveUnmask(secaggFromWire.unmaskResponse(m));
        this.seen.unmask.add(deviceId);
      }
    } catch (e) {
      if (!(e instanceof SecAggError)) throw e;
      return this.refuse(deviceId, e.code === 'out-of-order' ? RejectReason.RoundClosed : RejectReason.Malformed, e.message);
    }
    return true;
  }

  /**
   * Runs the round's four phases after its announcement: keys (from the participants, within
   * `phaseMs`), shares (from those that sent keys), masked inputs (until the round's deadline),
   * unmasking (from the survivors). Each waits until every device it expects answered or went
   * offline, or its deadline on the coordinator's clock. Returns how the masked inputs' phase
   * ended (the round's `closedBy`).
   */
  async run(): Promise<RoundReport['closedBy']> {
    const m = this.message;
    const phaseMs = this.settings.phaseMs;
    try {
      if ((await this.phase(m.participants, this.seen.keys, Math.min(m.deadline, (m.issuedAt ?? this.host.now()) + phaseMs))) === 'stopped') return 'stopped';
      await this.sendAll(this.server.setup(), secaggToWire.setup);
      if ((await this.phase(this.seen.keys, this.seen.shares, this.host.now() + phaseMs)) === 'stopped') return 'stopped';
      await this.sendAll(this.server.deliverShares(), secaggToWire.shareDelivery);
      const closedBy = await this.phase(this.seen.shares, this.seen.masked, m.deadline);
      if (closedBy === 'stopped') return closedBy;
      const requests = this.server.requestUnmask();
      this.asked = new Set(requests.keys());
      await this.sendAll(requests, secaggToWire.unmaskRequest);
      if ((await this.phase(this.asked, this.seen.unmask, this.host.now() + phaseMs)) === 'stopped') return 'stopped';
      this.result = await this.server.finish();
      for (const id of this.result.survivors) this.reported.add(id);
      this.accepted = this.result.survivors.length;
      return closedBy;
    } catch (e) {
      if (!(e instanceof SecAggError)) throw e;
      this.failure = `secure aggregation failed (${e.code}): ${e.message}`;
      return 'dropouts';
    } finally {
      this.open = false;
    }
  }

  /** The global stays when the masks could not be removed: the report says why. */
  override close(quorum: number, state?: Parameters<RoundCollection['close']>[1]): Closing {
    if (this.failure) {
      this.open = false;
      return { next: null, kept: { reason: 'quorum', detail: this.failure } };
    }
    return super.close(quorum, state);
  }

  private async phase(from: Iterable<string>, answered: ReadonlySet<string>, deadline: number): Promise<RoundReport['closedBy']> {
    const expected = [...from];
    for (;;) {
      if (this.host.stopped()) return 'stopped';
      const pending = expected.filter((id) => !answered.has(id));
      if (pending.length === 0) return 'complete';
      if (pending.every((id) => this.departed.has(id) || !this.host.isOnline(id))) return 'dropouts';
      if (this.host.now() >= deadline) return 'deadline';
      await this.host.sleepUntil(deadline);
    }
  }

  private async sendAll<M>(messages: Map<string, M>, wire: (m: M) => Parameters<typeof encodeMessage>[0]): Promise<void> {
    await Promise.all([...messages].map(([id, msg]) => this.host.send(id, encodeMessage(wire(msg)))));
  }

  private refuse(deviceId: string, reason: RejectReason, detail: string): true {
    this.rejectedByReason[reason] = (this.rejectedByReason[reason] ?? 0) + 1;
    this.host.refused(deviceId, reason, detail);
    return true;
  }

  /** The strategy's step from the mean of the survivors' dequantized sum (under DP: noised, over the selected count). */
  private aggregate(failures: string[]): Float32Array | null {
    const r = this.result;
    if (!r || r.survivors.length === 0) return null;
    const quantizer = secaggQuantizer(this.settings.clip, this.message.participants.length);
    const sum = dequantizeSum(r.sum, quantizer, r.survivors.length);
    let denominator = r.survivors.length;
    let strategy = this.settings.strategy;
    const dp = this.settings.dp;
    if (dp) {
      const round = dp.strategy.dp.beginRound(dp.sampling);
      dp.strategy.last = round.finish(sum);
      denominator = round.participants;
      strategy = dp.strategy.inner;
    }
    const mean = new Float32Array(sum.length);
    for (let i = 0; i < sum.length; i++) mean[i] = sum[i]! / denominator;
    const step = strategy.beginRound(this.message.round, this.settings.global);
    step.add({ deviceId: SECAGG_MEAN_ID, numExamples: 1, codec: f32Codec, delta: f32Codec.encode(mean, new Rng(0)) });
    return step.finish(failures);
  }
}
