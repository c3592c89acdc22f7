import os from 'node:os';
import type { MqttClient } from 'mqtt';
import {
  DeviceState,
  Rng,
  TypedEmitter,
  build,
  decodeMessage,
  encodeMessage,
  fleetTopics,
  parseCodec,
  parseTopic,
  systemClock,
  type Clock,
  type Codec,
  type FleetTopics,
  type RoundMessage,
  type TaskMessage,
} from '../protocol/index.js';
import { currentBackend, isModelName, type TrainingData } from '../learning/index.js';
import { GlobalCopy, type FollowMode } from './globalCopy.js';
import { MemoryResidualStore, type ResidualStore } from './residualStore.js';
import { LocalTrainer, type Trainer } from './trainer.js';

export interface AgentOptions {
  deviceId: string;
  /** @default 'default' */
  fleet?: string;
  /** This device's examples; they never leave it. */
  data: TrainingData;
  /** When to download the global. @default 'always' */
  follow?: FollowMode;
}

export interface AgentDeps {
  /** Shared trainer (a simulated fleet); by default the agent trains with its own model. */
  trainer?: Trainer;
  /** Where `+ef` codecs keep what they left out; by default in memory (lost on restart). */
  residuals?: ResidualStore;
  /**
   * Simulated failure: when it returns true for a round that chose this device, the device
   * trains nothing, says it went offline and comes straight back (a dropped connection).
   */
  dropout?: (round: RoundMessage) => boolean;
  /**
   * Awaited before the device's work for a round goes out (its update, or its dropout); a
   * simulator holds devices here to release their work in simulated-time order. `'late'` for an
   * update withholds it: in the simulator's time it would miss the round's deadline.
   */
  gate?: (work: FinishedWork) => Promise<void | 'late'>;
  /** The clock round deadlines are checked on; a simulated fleet passes its own. @default systemClock */
  clock?: Clock;
}

/** What a device is about to report for a round. */
export interface FinishedWork {
  round: RoundMessage;
  /** `rejoin`: a dropped-out device is about to come back online. */
  outcome: 'update' | 'dropout' | 'rejoin';
  /** Size of the update message (0 for a dropout). */
  bytes: number;
}

export type SkipReason = 'not-selected' | 'past-deadline' | 'model-mismatch' | 'codec-mismatch' | 'dropped-out' | 'missed-deadline';

export type AgentEvents = {
  /** Told whenever the device publishes its status. */
  status: [state: DeviceState];
  roundSkipped: [info: { round: number; reason: SkipReason }];
  trainingStarted: [round: RoundMessage];
  updatePublished: [info: { round: number; bytes: number; trainMs: number; loss: number; accuracy: number }];
  /** Something went wrong but the agent keeps running (bad message, failed training). */
  warning: [error: Error];
};

/**
 * The edge process's core: waits for a round that selects it, trains from the global
 * weights on local data, and publishes only the encoded delta (DESIGN.md, One round).
 */
export class DeviceAgent extends TypedEmitter<AgentEvents> {
  readonly deviceId: string;
  private readonly topics: FleetTopics;
  private readonly trainer: Trainer;
  private readonly ownsTrainer: boolean;
  private readonly residuals: ResidualStore;
  private readonly dropout: AgentDeps['dropout'];
  private readonly gate: AgentDeps['gate'];
  private readonly clock: Clock;
  private task: TaskMessage | null = null;
  /** The task's update codec, resolved once when the task arrives. */
  private codec: Codec | null = null;
  private readonly global: GlobalCopy;
  private fullSubscribed = false;
  private round: RoundMessage | null = null;
  /** The round message last handled: its number and deadline, since a restarted aggregator may announce a number again. */
  private lastRound = '';
  private busy = false;
  private stopped = false;
  private readonly onMessage = (topic: string, payload: Buffer): void => this.handle(topic, payload);
  private readonly onConnect = (): void => void this.publishStatus(this.busy ? DeviceState.Training : DeviceState.Online);

  constructor(
    private readonly client: MqttClient,
    private readonly options: AgentOptions,
    deps: AgentDeps = {},
  ) {
    super();
    this.deviceId = options.deviceId;
    this.topics = fleetTopics(options.fleet);
    this.topics.update(this.deviceId); // validates the id now rather than at the first round
    this.trainer = deps.trainer ?? new LocalTrainer();
    this.ownsTrainer = deps.trainer === undefined;
    this.residuals = deps.residuals ?? new MemoryResidualStore();
    this.dropout = deps.dropout;
    this.gate = deps.gate;
    this.clock = deps.clock ?? systemClock;
    this.global = new GlobalCopy(options.follow);
  }

  async start(): Promise<void> {
    this.client.on('message', this.onMessage);
    // After a reconnect the broker has published our last will: say we are back.
    this.client.on('connect', this.onConnect);
    const always = this.global.follow === 'always';
    const topics = always ? [this.topics.task, this.topics.global, this.topics.globalDelta, this.topics.round] : [this.topics.task, this.topics.round];
    await this.client.subscribeAsync(topics, { qos: 1 });
    this.fullSubscribed = always;
    await this.publishStatus(DeviceState.Online);
  }

  /** Says goodbye (retained offline status) and stops listening; the caller ends the client. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.client.off('message', this.onMessage);
    this.client.off('connect', this.onConnect);
    if (this.client.connected) await this.publishStatus(DeviceState.Offline).catch(() => undefined);
    if (this.ownsTrainer) this.trainer.dispose();
  }

  private handle(topic: string, payload: Buffer): void {
    const parsed = parseTopic(topic);
    if (!parsed || parsed.fleet !== this.topics.fleet || payload.byteLength === 0) return;
    try {
      if (parsed.kind === 'task') {
        const task = decodeMessage('task', payload);
        // The fleet's codec, resolved once per task (never per round), before anything changes:
        // a task with a codec this build does not know is refused whole.
        // eslint-disable-next-line no-restricted-syntax -- a spec from the network, not an option
        const codec = parseCodec(task.codec);
        this.global.setTask(task);
        this.task = task;
        this.codec = codec;
      } else if (parsed.kind === 'global') this.global.applyFull(decodeMessage('global', payload));
      else if (parsed.kind === 'global-delta') this.global.applyDelta(decodeMessage('globalDelta', payload));
      else if (parsed.kind === 'round') this.onRound(decodeMessage('round', payload));
      else return;
    } catch (error) {
      this.emit('warning', error as Error);
      return;
    }
    void this.maybeTrain();
  }

  /** A round that chose this device stays its work until done: a later one naming others does not replace it. */
  private onRound(round: RoundMessage): void {
    if (!(this.round && this.isMine(this.round)) || round.participants.includes(this.deviceId)) this.round = round;
  }

  /** The round chose this device and it has not handled it yet. */
  private isMine(round: RoundMessage): boolean {
    return roundKey(round) !== this.lastRound && round.participants.includes(this.deviceId);
  }

  /**
   * Joins the retained full global only while it is needed: with a delta downlink a device
   * that holds the global follows the steps instead; in `when-selected` mode a device
   * fetches it only for a round that chose it.
   */
  private async followGlobal(): Promise<void> {
    const wanted = this.global.wantsFull;
    if (wanted === this.fullSubscribed || this.stopped) return;
    this.fullSubscribed = wanted;
    try {
      if (wanted) await this.client.subscribeAsync(this.topics.global, { qos: 1 });
      else await this.client.unsubscribeAsync(this.topics.global);
    } catch (error) {
      this.fullSubscribed = !wanted;
      this.emit('warning', error as Error);
    }
  }

  private async maybeTrain(): Promise<void> {
    const round = this.round;
    if (round && this.task) this.global.observeRound(round.globalVersion, this.isMine(round));
    await this.followGlobal();
    if (this.busy || this.stopped || !round || roundKey(round) === this.lastRound) return;
    if (!round.participants.includes(this.deviceId)) return this.skip(round, 'not-selected');
    if (this.clock.now() > round.deadline) return this.skip(round, 'past-deadline');
    const task = this.task;
    const codec = this.codec;
    const weights = this.global.weights;
    // Both are retained and published before the round; wait until they have arrived. In
    // async mode the global may have moved on since: a newer one is a better start.
    if (!task || !codec || !weights || this.global.version < round.globalVersion) return;
    if (!isModelName(task.model)) return this.skip(round, 'model-mismatch');
    // The task's codec is the fleet's: a round asking for another one is not the aggregator's.
    if (round.codec !== codec.spec) return this.skip(round, 'codec-mismatch');
    if (this.dropout?.(round)) return this.dropOut(round);

    this.busy = true;
    this.lastRound = roundKey(round);
    try {
      this.emit('trainingStarted', round);
      await this.publishStatus(DeviceState.Training);
      const outcome = await this.trainer.train({
        model: task.model,
        global: weights,
        data: this.options.data,
        options: { epochs: round.epochs, batchSize: round.batchSize, lr: round.lr, mu: round.mu, seed: Rng.derive(round.seed, 'train', this.deviceId).nextUint32() },
      });
      const delta = new Float32Array(outcome.weights.length);
      for (let i = 0; i < delta.length; i++) delta[i] = outcome.weights[i]! - weights[i]!;
      const rng = Rng.derive(round.seed, 'codec', this.deviceId);
      // Error feedback: add what earlier rounds left out, and keep what this one leaves out.
      const feedback = codec.errorFeedback ? await this.residuals.load(this.deviceId, delta.length, codec.spec) : null;
      const update = encodeMessage(build.update({
        round: round.round, deviceId: this.deviceId, numExamples: this.options.data.count, codec: codec.spec,
        delta: feedback ? feedback.encode(codec, delta, rng) : codec.encode(delta, rng),
        metrics: { loss: outcome.loss, accuracy: outcome.accuracy }, trainMs: outcome.ms,
      }));
      if ((await this.gate?.({ round, outcome: 'update', bytes: update.byteLength })) === 'late') {
        this.skip(round, 'missed-deadline');
      } else {
        await this.client.publishAsync(this.topics.update(this.deviceId), Buffer.from(update.buffer, 0, update.byteLength), { qos: 1 });
        // Saved once the update is out: a failed publish must not drop the residual it carried.
        if (feedback) await this.residuals.save(this.deviceId, codec.spec, feedback);
        this.emit('updatePublished', { round: round.round, bytes: update.byteLength, trainMs: outcome.ms, loss: outcome.loss, accuracy: outcome.accuracy });
      }
    } catch (error) {
      this.emit('warning', error as Error);
    } finally {
      this.busy = false;
    }
    if (!this.stopped) {
      await this.publishStatus(DeviceState.Online).catch((e: Error) => this.emit('warning', e));
      void this.maybeTrain();
    }
  }

  /** The coordinator stops waiting for a participant it saw go offline during the round. */
  private async dropOut(round: RoundMessage): Promise<void> {
    this.skip(round, 'dropped-out');
    this.busy = true;
    try {
      await this.gate?.({ round, outcome: 'dropout', bytes: 0 });
      await this.publishStatus(DeviceState.Offline);
      await this.gate?.({ round, outcome: 'rejoin', bytes: 0 });
      await this.publishStatus(DeviceState.Online);
    } catch (error) {
      this.emit('warning', error as Error);
    } finally {
      this.busy = false;
    }
    // A round announced meanwhile was ignored while busy.
    if (!this.stopped) void this.maybeTrain();
  }

  private skip(round: RoundMessage, reason: SkipReason): void {
    this.lastRound = roundKey(round);
    this.emit('roundSkipped', { round: round.round, reason });
  }

  private async publishStatus(state: DeviceState): Promise<void> {
    const status = build.status({
      deviceId: this.deviceId, state, ts: this.clock.now(),
      capabilities: {
        cpus: os.cpus().length, memoryMb: Math.round(os.totalmem() / 2 ** 20),
        backend: currentBackend() ?? 'none', samples: this.options.data.count,
      },
    });
    await this.client.publishAsync(this.topics.status(this.deviceId), Buffer.from(encodeMessage(status)), { qos: 1, retain: true });
    this.emit('status', state);
  }
}

function roundKey(round: RoundMessage): string {
  return `${round.round}@${round.deadline}`;
}
