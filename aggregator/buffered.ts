import { DEFAULT_MAX_MESSAGE_BYTES, Rng, admitToDispatch, type Codec, type UpdateMessage } from '../protocol/index.js';
import { Coordinator, type CoordinatorDeps, type RoundReport } from './coordinator.js';
import type { CoordinatorSettings } from './options.js';
import { UpdateCollection, type Admission, type ExamplesCap } from './round.js';
import type { RoundAggregation } from './strategies/index.js';

/** FedBuff's staleness discount (Nguyen et al. 2022, eq. 3): an update computed from a global `staleness` versions old counts 1 / sqrt(1 + staleness). */
export function stalenessWeight(staleness: number): number {
  return 1 / Math.sqrt(1 + staleness);
}

/** A device sent off to train: from which global version, and until when its update is awaited. */
interface Assignment {
  round: number;
  baseVersion: number;
  deadline: number;
}

/** One buffer's worth of updates toward the next global, with what async mode reports of it. */
class BufferCollection extends UpdateCollection {
  /** Devices sent off while this buffer filled (each downloaded the global). */
  dispatched = 0;
  /** Bytes of the dispatch messages devices received. */
  downBytes = 0;
  /** Per device sent off: the global's step it downloaded, unless a catch-up replaced it. */
  readonly steps = new Map<string, number>();
  /** Assignments lost while this buffer filled: the device went offline or missed its deadline. */
  readonly lost: string[] = [];
  readonly staleness: number[] = [];

  constructor(codec: Codec, aggregation: RoundAggregation, private readonly owner: BufferedCoordinator, examplesCap: ExamplesCap) {
    super(codec, aggregation, DEFAULT_MAX_MESSAGE_BYTES, examplesCap);
  }

  protected admit(update: UpdateMessage): Admission {
    return this.owner.admit(update);
  }

  protected settled(update: UpdateMessage, failed: boolean): void {
    const staleness = this.owner.settle(update, failed);
    if (!failed) this.staleness.push(staleness);
  }

  protected failures(): string[] {
    return [];
  }
}

/**
 * Async mode, FedBuff style (Nguyen et al. 2022, "Federated Learning with Buffered Asynchronous
 * Aggregation"): `ceil(fraction x online)` devices (at least `minParticipants`) train at all
 * times; a device that reports, leaves or misses its deadline is replaced at once by a seeded
 * draw among the idle ones, who start from the newest global. Each accepted update is scaled by
 * `stalenessWeight(versions since its base)` and folded into the strategy's aggregation; every
 * `buffer` accepted updates the strategy finishes and a new global goes out. A "round" of the
 * report is one such global; round messages are dispatches (their `round` numbers the dispatch,
 * their `participants` are the devices it sends off, who report under that number).
 * Memory: the strategy's (O(model) for the FedAvg family) plus one record per device in flight.
 */
export class BufferedCoordinator extends Coordinator {
  private readonly inflight = new Map<string, Assignment>();
  /** Each device's last accepted dispatch, to tell a repeat from a stranger. */
  private readonly lastReported = new Map<string, number>();
  private buffer: BufferCollection | null = null;
  /** Updates that came in after the buffer filled but before it closed (several can arrive in one network read): they belong to the next global. */
  private overflow: Array<[deviceId: string, payload: Buffer]> = [];
  /** Each dispatch's round message, while some device it sent off may still answer it. */
  private readonly dispatches = new Map<number, Buffer>();

  constructor(options: CoordinatorSettings, deps: CoordinatorDeps) {
    super({ ...options, mode: 'async' }, deps);
  }

  protected override async runRound(step: number): Promise<RoundReport | null> {
    const o = this.options;
    const started = performance.now();
    const buffer = (this.buffer ??= this.newBuffer(step));
    let closedBy: RoundReport['closedBy'] = 'complete';
    for (;;) {
      if (this.stopped) {
        closedBy = 'stopped';
        break;
      }
      this.expire(buffer);
      if (buffer.accepted >= o.buffer) break;
      await this.refill(buffer);
      if (this.inflight.size === 0) {
        await this.waitForEligible(0, 1);
        continue;
      }
      this.emit('idle');
      await this.sleepUntil(Math.min(...[...this.inflight.values()].map((a) => a.deadline)));
    }
    const closing = this.closed(step, buffer.close(this.quorum, this.aggregator));
    const release = closing.next ? this.release(closing.next, step) : null;
    // Updates that arrive while this global is evaluated and sent belong to the next one.
    this.buffer = this.newBuffer(step + 1);
    for (const [deviceId, payload] of this.overflow.splice(0)) this.receiveUpdate(deviceId, payload);

    const evaluation = await this.evaluateAndPublish(release, step);
    const s = buffer.staleness;
    const report: RoundReport = {
      round: step, ...evaluation, participants: buffer.dispatched, ...buffer.counts(), bytesDown: this.downloads(buffer.downBytes, buffer.steps),
      wallMs: performance.now() - started, closedBy, missing: [...buffer.lost], ...this.outcome(closing),
      staleness: { mean: s.length > 0 ? s.reduce((a, b) => a + b, 0) / s.length : 0, max: s.length > 0 ? Math.max(...s) : 0 },
    };
    await this.publishReport(report);
    return report;
  }

  private newBuffer(step: number): BufferCollection {
    return new BufferCollection(this.options.codec, this.aggregator.beginRound(step, this.target), this, this.examplesCap);
  }

  /** Who may contribute: a device with an open assignment, reporting under its dispatch (protocol/admission.ts). */
  admit(update: UpdateMessage): Admission {
    const a = this.inflight.get(update.deviceId);
    return admitToDispatch({ open: a?.round, lastReported: this.lastReported.get(update.deviceId) }, update) ?? {
      scale: stalenessWeight(this.broadcaster.currentVersion - a!.baseVersion),
    };
  }

  /** The assignment is over (accepted, or refused for its content); returns its staleness. */
  settle(update: UpdateMessage, failed: boolean): number {
    const a = this.inflight.get(update.deviceId)!;
    this.inflight.delete(update.deviceId);
    if (!failed) this.lastReported.set(update.deviceId, update.round);
    return this.broadcaster.currentVersion - a.baseVersion;
  }

  protected override receiveUpdate(deviceId: string, payload: Buffer): void {
    const b = this.buffer;
    if (!b) return;
    if (b.accepted >= this.options.buffer) {
      this.overflow.push([deviceId, payload]);
      return;
    }
    const verdict = b.receive(deviceId, payload);
    this.told(verdict.update?.round ?? 0, deviceId, payload.byteLength, verdict);
    // A full buffer makes a global now, however the update came in.
    if (b.accepted >= this.options.buffer) this.wake();
  }

  /** Every dispatch some device is still training for, oldest first (the newest ends up retained). */
  protected override openRounds(): Buffer[] {
    this.forgetAnswered();
    return [...this.dispatches.entries()].sort(([a], [b]) => a - b).map(([, payload]) => payload);
  }

  private forgetAnswered(): void {
    const open = new Set([...this.inflight.values()].map((a) => a.round));
    for (const round of this.dispatches.keys()) if (!open.has(round)) this.dispatches.delete(round);
  }

  protected override deviceOffline(deviceId: string): void {
    if (this.inflight.delete(deviceId)) this.buffer?.lost.push(deviceId);
  }

  private expire(buffer: BufferCollection): void {
    const now = this.clock.now();
    for (const [id, a] of this.inflight) {
      if (a.deadline > now) continue;
      this.inflight.delete(id);
      buffer.lost.push(id);
    }
  }

  /** Sends idle online devices off until `ceil(fraction x online)` (at least minParticipants) train. */
  private async refill(buffer: BufferCollection): Promise<void> {
    const o = this.options;
    const online = this.registry.online();
    const slots = Math.max(o.minParticipants, Math.ceil(o.fraction * online.length)) - this.inflight.size;
    const idle = online.filter((id) => !this.inflight.has(id) && (this.criterion?.(this.registry.get(id)!) ?? true)).sort();
    if (slots <= 0 || idle.length === 0) return;
    const round = this.announced + 1;
    const chosen = Rng.derive(o.seed, 'select', round).shuffle(idle).slice(0, slots).sort();
    const message = this.roundMessage(round, chosen);
    for (const id of chosen) this.inflight.set(id, { round, baseVersion: message.globalVersion, deadline: message.deadline });
    this.forgetAnswered();
    const announcing = this.announce(message);
    this.dispatches.set(round, this.lastRound!);
    const roundBytes = await announcing;
    buffer.dispatched += chosen.length;
    buffer.downBytes += roundBytes * chosen.length;
    for (const id of chosen) buffer.steps.set(id, (buffer.steps.get(id) ?? 0) + this.broadcaster.downloadBytes);
  }
}
