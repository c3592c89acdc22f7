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
  parseDownlink,
  parseTopic,
  systemClock,
  type Clock,
  type Codec,
  type FleetTopics,
  type Resources,
  type RoundMessage,
  type TaskMessage,
  UntrustedMessageError,
  type FleetTrust,
  type TrustRefusal,
} from '../protocol/index.js';
import { MAX_ROUND_MS } from '../protocol/wire.js';
import { TrainingStoppedError, currentBackend, taskInitialWeights } from '../learning/index.js';
import { taskMismatch, type DeviceExamples } from '../datasets/index.js';
import { MessageRefusedError } from './errors.js';
import { GlobalCopy, type FollowMode } from './globalCopy.js';
import type { ModelStore, SavedModel } from './modelStore.js';
import { ModelKeeper } from './modelKeeper.js';
import { evaluationReply, statisticsReply } from './replies.js';
import { MemoryResidualStore, type ResidualStore } from './residualStore.js';
import { LocalDp, type GaussianSource } from '../privacy/index.js';
import { boundResources, readResources } from './resources.js';
import type { TrainPolicy } from './trainPolicy.js';
import { LocalTrainer, type Trainer, type TrainOutcome } from './trainer.js';
import { SecAggSession, maskedBytes, type SecAggStep } from './secagg.js';

export interface AgentOptions {
  deviceId: string;
  /** @default 'default' */
  fleet?: string;
  /**
   * This device's examples; they never leave it. It trains on `train`, evaluates globals on
   * `holdout` when a round asks, and answers a statistics round with `moments()`.
   */
  data: DeviceExamples;
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
   * update withholds it: in the simulator's time it would miss the round's deadline. With a
   * gate, the gate alone judges lateness: the agent then neither stops training at the deadline
   * nor withholds an update itself, since a simulated device's time is worked out after it trained.
   */
  gate?: (work: FinishedWork) => Promise<void | 'late'>;
  /** The clock round deadlines are checked on; a simulated fleet passes its own. @default systemClock */
  clock?: Clock;
  /**
   * Where the device keeps the newest verified global with its task (device-agent/modelStore.ts),
   * to use what it learned (`fedmq predict`, `--serve`). By default none: nothing is kept.
   */
  models?: ModelStore;
  /**
   * What the device can spare now (power, CPU temperature, load, free memory), sent in every
   * status. By default none is read, unless there is a `policy` (then device-agent/resources.ts's
   * `readResources()`, the OS's /sys and /proc).
   */
  resources?: () => Promise<Resources>;
  /**
   * When the device may train (`--train-when`): checked when a training or evaluate round chooses
   * it and every `policyEveryMs` on `clock`. While it fails the device says `busy` (with the
   * failing rules as `reason`) and declines rounds (`roundSkipped`, reason `busy`); once it holds
   * again the device says `online`.
   */
  policy?: TrainPolicy;
  /** @default 30000 */
  policyEveryMs?: number;
  /**
   * Where local DP's noise comes from, when the task asks for it (`task.dp`). @default
   * secureGaussian() (the OS CSPRNG); a seeded source is for tests only.
   */
  dpNoise?: GaussianSource;
  /**
   * `--trust`: the aggregator's public key, as protocol/signed.ts's rules (privacy/signing.ts's
   * `trustKey`). Every task, global, step, round and catch-up must then be signed by it, and no
   * global older than the one held nor round past its deadline or older than the newest is
   * taken: a refused one is counted (`untrusted`) and changes nothing. By default none is checked.
   */
  trust?: FleetTrust;
  /**
   * Simulated failure under `--secagg`: when it returns true for a round, the device masks its
   * update but drops out before the masked input goes (says offline, comes back): the
   * aggregator removes its pairwise masks with its neighbours' shares and sums the rest.
   */
  secaggDropout?: (round: RoundMessage) => boolean;
  /** Tests only: told each quantized input this device masks under `--secagg`, before masking. */
  secaggInput?: (round: number, input: Uint32Array) => void;
}

/** What a device is about to report for a round. */
export interface FinishedWork {
  round: RoundMessage;
  /** `rejoin`: a dropped-out device is about to come back online. */
  outcome: 'update' | 'dropout' | 'rejoin';
  /** Size of the update message (0 for a dropout). */
  bytes: number;
}

/**
 * Why the agent did not report for a round: `missed-deadline` when training was stopped at the
 * deadline (or ended after it), `superseded` when a newer round chose the device while it trained,
 * `busy` when its policy (`AgentDeps.policy`) declined the work.
 */
export type SkipReason = 'not-selected' | 'past-deadline' | 'awaiting-statistics' | 'codec-mismatch' | 'dropped-out' | 'missed-deadline' | 'superseded' | 'busy';

export type AgentEvents = {
  /** Told whenever the device publishes its status (`reason`: why it is busy). */
  status: [state: DeviceState, info: { reason?: string; resources?: Resources }];
  roundSkipped: [info: { round: number; reason: SkipReason }];
  trainingStarted: [round: RoundMessage];
  updatePublished: [info: { round: number; bytes: number; trainMs: number; loss: number; metrics: Record<string, number> }];
  /** The device evaluated a global on its held-out data and sent the result (count 0: it holds none). */
  evaluated: [info: { round: number; globalVersion: number; count: number; loss: number; metrics: Record<string, number> }];
  /** The device sent its training features' moments (a `statistics` round). */
  statisticsSent: [info: { round: number; count: number }];
  /** The update for the open round went out again: the round was announced again after it was sent (a restarted broker lost it). */
  updateResent: [info: { round: number; bytes: number }];
  /** A newly verified global and its task were written to the model store (`AgentDeps.models`). */
  modelSaved: [model: SavedModel];
  /** A catch-up from the aggregator brought this device from version `from` (-1: none) to `to`. */
  caughtUp: [info: { from: number; to: number; kind: 'steps' | 'full'; bytes: number }];
  /** Something went wrong but the agent keeps running (a refused message: `MessageRefusedError`; failed training). */
  warning: [error: Error];
  /** `AgentDeps.trust`: a message was refused (unsigned, another key, a bad signature, a replay, expired); `total` refused so far. */
  untrusted: [info: { kind: string; reason: TrustRefusal; detail: string; total: number }];
  /** `--secagg`: a step of a secure round went out (keys, shares, the masked input, the unmask answer). */
  secaggStep: [info: { round: number; step: SecAggStep; bytes: number }];
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
  private readonly resources: (() => Promise<Resources>) | undefined;
  private readonly policy: TrainPolicy | undefined;
  private readonly policyEveryMs: number;
  /** Why the policy declines work now (the failing rules), or null when it allows it. */
  private declining: string | null = null;
  /** The round the policy last allowed: it is not asked again for it. */
  private cleared = '';
  private readonly policyWatch = new AbortController();
  /** Writes each new global to the model store (`AgentDeps.models`), when there is one. */
  private readonly keeper: ModelKeeper | null;
  private task: TaskMessage | null = null;
  /** The task's update codec, resolved once when the task arrives. */
  private codec: Codec | null = null;
  /** Local DP (`task.dp`): clips and noises each update before it is encoded; null when the task does not ask. */
  private localDp: LocalDp | null = null;
  private readonly dpNoise: GaussianSource | undefined;
  private readonly trust: FleetTrust | undefined;
  /** `--secagg` (task.secagg): the open secure round, from its keys to its unmask answer. */
  private secure: SecAggSession | null = null;
  private readonly secaggDeps: Pick<AgentDeps, 'secaggDropout' | 'secaggInput'>;
  /** Messages refused by `trust`, by reason. */
  readonly untrusted: Record<TrustRefusal, number> = { unsigned: 0, 'other-key': 0, 'bad-signature': 0, replay: 0, expired: 0 };
  private readonly global: GlobalCopy;
  private fullSubscribed = false;
  /** The last task message as it arrived: the same one again (a broker restart) keeps the copy held. */
  private taskBytes: Buffer | null = null;
  /** The last sync sent (`have->want`), so a device asks once per gap. */
  private lastSync = '';
  private round: RoundMessage | null = null;
  /** The round message last handled: its number and deadline, since a restarted aggregator may announce a number again. */
  private lastRound = '';
  private busy = false;
  private stopped = false;
  /** The round being trained and what stops its training (its deadline, or a newer round choosing this device). */
  private training: { round: RoundMessage; stop: AbortController; superseded: boolean } | null = null;
  /**
   * The last update sent, kept for the open round only: if that round is announced again after
   * the update went out (a broker restarted without persistence, and the aggregator republished
   * its round after the update reached the broker), it is sent once more.
   */
  private sent: { key: string; round: RoundMessage; payload: Buffer; resent: boolean } | null = null;
  private readonly onMessage = (topic: string, payload: Buffer): void => this.handle(topic, payload);
  private readonly onConnect = (): void => this.reconnected();

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
    this.keeper = deps.models ? new ModelKeeper(deps.models, (m) => this.emit('modelSaved', m), (e) => this.emit('warning', e)) : null;
    this.policy = deps.policy;
    this.dpNoise = deps.dpNoise;
    this.trust = deps.trust;
    this.secaggDeps = { secaggDropout: deps.secaggDropout, secaggInput: deps.secaggInput };
    this.resources = deps.resources ?? (deps.policy ? () => readResources() : undefined);
    this.policyEveryMs = deps.policyEveryMs ?? 30_000;
    if (!(this.policyEveryMs > 0)) throw new RangeError(`policyEveryMs must be positive, got ${this.policyEveryMs}`);
    this.global = new GlobalCopy(options.follow, taskInitialWeights);
  }

  /** The global this device holds: its version (-1: none), SHA-256 and weights (a view: do not modify). */
  get heldGlobal(): { version: number; sha256: string; weights: Float32Array | null } {
    return { version: this.global.version, sha256: this.global.sha256, weights: this.global.weights };
  }

  async start(): Promise<void> {
    this.client.on('message', this.onMessage);
    this.client.on('connect', this.onConnect);
    await this.client.subscribeAsync(this.subscriptions(false), { qos: 1 });
    // The first status already says whether the device declines work.
    if (this.policy) this.declining = this.policy.check(await this.readResources());
    await this.publishStatus(this.idleState());
    if (this.policy) void this.watchPolicy();
  }

  /** The device's state when it is not training: `busy` while its policy declines work. */
  private idleState(): DeviceState {
    return this.declining === null ? DeviceState.Online : DeviceState.Busy;
  }

  private async readResources(): Promise<Resources> {
    if (!this.resources) return {};
    try {
      return boundResources(await this.resources());
    } catch (error) {
      this.emit('warning', error as Error);
      return {};
    }
  }

  /** Checks the policy every `policyEveryMs` on the agent's clock, until the agent stops. */
  private async watchPolicy(): Promise<void> {
    const signal = this.policyWatch.signal;
    while (!this.stopped) {
      await this.clock.sleepUntil(this.clock.now() + this.policyEveryMs, signal);
      if (this.stopped) return;
      await this.checkPolicy();
    }
  }

  /**
   * Reads the resources and asks the policy; when its answer changes, says so (`busy` with the
   * reason, or `online`) unless the device is training (its status after training says it).
   * Returns the reason it declines, or null.
   */
  private async checkPolicy(): Promise<string | null> {
    const declining = this.policy!.check(await this.readResources());
    const changed = declining !== this.declining;
    this.declining = declining;
    if (changed && !this.training && !this.stopped) {
      await this.publishStatus(this.idleState()).catch((e: Error) => this.emit('warning', e));
      if (declining === null) void this.maybeTrain();
    }
    return declining;
  }

  /** A round chose this device: asks the policy first (once per round), then handles the round, or declines it as `busy`. */
  private async consultPolicy(round: RoundMessage): Promise<void> {
    this.busy = true;
    let declining: string | null = null;
    try {
      declining = await this.checkPolicy();
    } finally {
      this.busy = false;
    }
    if (this.stopped) return;
    if (declining === null) this.cleared = roundKey(round);
    else this.skip(round, 'busy');
    void this.maybeTrain();
  }

  /**
   * The task, the round and the aggregator's catch-ups to this device; a follower also the
   * steps; `full` adds the retained global (known to be wanted once the task has come).
   */
  private subscriptions(full: boolean): string[] {
    const t = this.topics;
    return [t.task, ...(full ? [t.global] : []), ...(this.global.follow === 'always' ? [t.globalDelta] : []), t.round, t.to(this.deviceId)];
  }

  /**
   * After a reconnect the broker has published our last will: say we are back (and training, if
   * we are). With a clean session the broker forgot our subscriptions: mqtt.js subscribes again
   * by itself when the client reconnects on its own (`resubscribe`, the default, with a
   * `reconnectPeriod` above 0 when we subscribed); a client that does not gets them from us here.
   */
  private reconnected(): void {
    if (this.stopped) return;
    const options = this.client.options;
    if (options.resubscribe === false || !((options.reconnectPeriod ?? 0) > 0)) {
      this.client.subscribeAsync(this.subscriptions(this.fullSubscribed), { qos: 1 }).catch((e: Error) => this.emit('warning', e));
    }
    this.publishStatus(this.training ? DeviceState.Training : this.idleState()).catch((e: Error) => this.emit('warning', e));
  }

  /** Says goodbye (retained offline status) and stops listening; the caller ends the client. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.client.off('message', this.onMessage);
    this.client.off('connect', this.onConnect);
    this.training?.stop.abort();
    this.secure?.abandon();
    this.policyWatch.abort();
    if (this.client.connected) await this.publishStatus(DeviceState.Offline).catch(() => undefined);
    await this.keeper?.stop();
    if (this.ownsTrainer) this.trainer.dispose();
  }

  /**
   * Every message is checked whole before anything changes: a refused one (a `warning` with
   * `MessageRefusedError`) leaves the agent as it was, holding the task, global and round it had.
   */
  private handle(topic: string, payload: Buffer): void {
    const parsed = parseTopic(topic);
    if (!parsed || parsed.fleet !== this.topics.fleet || payload.byteLength === 0) return;
    const kind = parsed.kind;
    if (kind !== 'task' && kind !== 'global' && kind !== 'global-delta' && kind !== 'round' && kind !== 'to') return;
    if (kind === 'to' && parsed.deviceId !== this.deviceId) return;
    if (kind === 'to' && this.secure?.receive(payload)) return;
    try {
      // With `trust`, a message is taken only signed by the aggregator's key (protocol/signed.ts).
      if (this.trust && kind !== 'to') this.trust.open(kind === 'global-delta' ? 'globalDelta' : kind, payload);
      if (kind === 'task') {
        const task = decodeMessage('task', payload);
        // The fleet's codec, resolved once per task (never per round), before anything changes:
        // a task this device cannot run (model, shape, codec, downlink) is refused whole.
        const codec = this.runnable(task);
        const stale = this.global.setTask(task, !this.taskBytes?.equals(payload));
        this.taskBytes = payload;
        this.lastSync = '';
        this.task = task;
        this.codec = codec;
        this.localDp = task.dp ? LocalDp.of(task.dp.noiseMultiplier, task.dp.clip, this.dpNoise) : null;
        if (stale) this.emit('warning', new MessageRefusedError('global', stale.message, { cause: stale }));
      } else if (kind === 'global') this.global.applyFull(this.fresh(decodeMessage('global', payload)));
      else if (kind === 'global-delta') this.global.applyDelta(this.fresh(decodeMessage('globalDelta', payload)));
      else if (kind === 'to') this.caughtUp(payload);
      else this.onRound(this.acceptable(decodeMessage('round', payload)));
    } catch (error) {
      const e = error as Error;
      if (e instanceof UntrustedMessageError) return this.refuseUntrusted(e);
      this.emit('warning', e instanceof MessageRefusedError ? e : new MessageRefusedError(kind, e.message, { cause: e }));
      // A refused catch-up: the next sync asks for the full copy.
      if (kind === 'to') void this.maybeTrain();
      return;
    }
    if (kind !== 'round') this.keepModel();
    void this.maybeTrain();
  }

  /** A catch-up on `to/{id}`: applied whole, or refused (and the next sync asks for the full copy). */
  private caughtUp(payload: Buffer): void {
    const message = decodeMessage('catchUp', payload);
    this.trust?.openCatchUp(message);
    this.trust?.freshGlobal('catchUp', message.version, this.global.version);
    const from = this.global.version;
    this.global.applyCatchUp(message);
    this.emit('caughtUp', { from, to: this.global.version, kind: message.full ? 'full' : 'steps', bytes: payload.byteLength });
  }

  /** With `trust`: a global (full or step) older than the one held is a replay. */
  private fresh<M extends { type: 'global' | 'globalDelta'; version: number }>(message: M): M {
    this.trust?.freshGlobal(message.type, message.version, this.global.version);
    return message;
  }

  private refuseUntrusted(e: UntrustedMessageError): void {
    this.untrusted[e.reason]++;
    const total = Object.values(this.untrusted).reduce((a, b) => a + b, 0);
    this.emit('untrusted', { kind: e.kind === 'globalDelta' ? 'global-delta' : e.kind === 'catchUp' ? 'catch-up' : e.kind, reason: e.reason, detail: e.message, total });
  }

  /** With a step downlink, asks the aggregator for the versions this device misses, once per gap. */
  private requestSync(): void {
    const sync = this.global.wantsSync;
    const round = this.round;
    if (!sync || !round || this.stopped) return;
    const key = `${sync.have}->${sync.want}`;
    if (key === this.lastSync) return;
    this.lastSync = key;
    const payload = encodeMessage(build.sync({ deviceId: this.deviceId, round: round.round, have: sync.have }));
    this.client.publishAsync(this.topics.update(this.deviceId), Buffer.from(payload), { qos: 1 }).catch((e: Error) => this.emit('warning', e));
  }

  /** Offers the global to the model store when its task can be used as it is (statistics are numbers, not `'fleet'`). */
  private keepModel(): void {
    const weights = this.global.weights;
    const task = this.task?.task;
    if (!this.keeper || !weights || !task || task.preprocessing?.standardize === 'fleet') return;
    this.keeper.offer({ task, version: this.global.version, round: this.global.round, sha256: this.global.sha256, weights });
  }

  /** The task's codec, or `MessageRefusedError` unless this device's data fits the task as announced. */
  private runnable(message: TaskMessage): Codec {
    // The same rule the simulator applies before a run (datasets/taskFit.ts): shape, feature names, output.
    const misfit = taskMismatch(this.options.data, message.task);
    if (misfit !== undefined) throw new MessageRefusedError('task', `this device's data cannot train task "${message.task.name}": ${misfit}`);
    // eslint-disable-next-line no-restricted-syntax -- a spec from the network, not an option
    parseDownlink(message.downlink);
    // eslint-disable-next-line no-restricted-syntax -- a spec from the network, not an option
    return parseCodec(message.codec);
  }

  /**
   * The round, unless its deadline is further than `MAX_ROUND_MS` from now on this device's
   * clock (the wire format bounds everything else a round may ask: protocol/wire.ts).
   */
  private acceptable(round: RoundMessage): RoundMessage {
    if (round.deadline - this.clock.now() > MAX_ROUND_MS) {
      throw new MessageRefusedError('round', `round ${round.round}'s deadline is ${Math.round((round.deadline - this.clock.now()) / 1000)} s away, more than ${MAX_ROUND_MS / 1000} s`);
    }
    this.trust?.freshRound(round, this.clock.now());
    return round;
  }

  /**
   * A round that chose this device stays its work until done: a later one naming others does
   * not replace it. A newer one that chooses it too ends the training of the old one (the
   * aggregator has moved on). The round it already sent an update for, announced again, gets
   * that update again, once.
   */
  private onRound(round: RoundMessage): void {
    const key = roundKey(round);
    // An evaluate or statistics round neither re-announces nor replaces a training round.
    if ((round.kind ?? 'train') === 'train') {
      if (this.sent && this.sent.key !== key && round.round >= this.sent.round.round) this.sent = null;
      if (this.sent?.key === key) this.resend(this.sent);
    }
    const training = this.training;
    if (training && !this.gate && roundKey(training.round) !== key && round.round >= training.round.round && round.participants.includes(this.deviceId)) {
      training.superseded = true;
      training.stop.abort();
    }
    if (!(this.round && this.isMine(this.round)) || round.participants.includes(this.deviceId)) this.round = round;
  }

  private resend(sent: NonNullable<DeviceAgent['sent']>): void {
    if (sent.resent || this.stopped) return;
    if (!this.gate && this.clock.now() > sent.round.deadline) {
      this.sent = null;
      return;
    }
    sent.resent = true;
    this.client.publishAsync(this.topics.update(this.deviceId), sent.payload, { qos: 1 }).then(
      () => this.emit('updateResent', { round: sent.round.round, bytes: sent.payload.byteLength }),
      (e: Error) => this.emit('warning', e),
    );
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
    this.requestSync();
    await this.followGlobal();
    if (this.busy || this.stopped || !round || roundKey(round) === this.lastRound) return;
    const kind = round.kind ?? 'train';
    if (!round.participants.includes(this.deviceId)) return kind === 'train' ? this.skip(round, 'not-selected') : void (this.lastRound = roundKey(round));
    if (this.clock.now() > round.deadline) return this.skip(round, 'past-deadline');
    const task = this.task;
    const codec = this.codec;
    const weights = this.global.weights;
    if (kind === 'statistics' && task) return this.answer(round, task.task, null);
    // Both are retained and published before the round; wait until they have arrived. In
    // async mode the global may have moved on since: a newer one is a better start.
    if (!task || !codec || !weights || this.global.version < round.globalVersion) return;
    // Training and evaluating are work the device's policy may decline (statistics cost nothing).
    if (this.policy && this.cleared !== roundKey(round)) return this.consultPolicy(round);
    if (kind === 'evaluate') return this.answer(round, task.task, weights);
    // Statistics not in yet: the aggregator publishes the task with them before any training round.
    if (task.task.preprocessing?.standardize === 'fleet') return this.skip(round, 'awaiting-statistics');
    // The task's codec is the fleet's: a round asking for another one is not the aggregator's.
    if (round.codec !== codec.spec) return this.skip(round, 'codec-mismatch');
    if (this.dropout?.(round)) return this.dropOut(round);

    this.busy = true;
    this.lastRound = roundKey(round);
    // Training ends at the deadline on this device's clock: an update after it would be refused.
    const training = { round, stop: new AbortController(), superseded: false };
    const done = new AbortController();
    this.training = training;
    if (!this.gate) {
      void this.clock.sleepUntil(round.deadline, done.signal).then(() => {
        if (!done.signal.aborted) training.stop.abort();
      });
    }
    try {
      this.emit('trainingStarted', round);
      await this.publishStatus(DeviceState.Training);
      if (task.secagg) await this.openSecure(round, task.secagg);
      const outcome = await this.trainer.train({
        task: task.task,
        global: weights,
        data: this.options.data.train,
        options: { epochs: round.epochs, batchSize: round.batchSize, lr: round.lr, mu: round.mu, seed: Rng.derive(round.seed, 'train', this.deviceId).nextUint32() },
        ...(!this.gate && { signal: training.stop.signal }),
      });
      // Finished after the deadline (a slow last batch, or a clock that jumped): the update would be refused.
      if (!this.gate && this.clock.now() > round.deadline) this.skip(round, 'missed-deadline');
      else await this.report(round, codec, weights, outcome);
    } catch (error) {
      if (error instanceof TrainingStoppedError) this.skip(round, training.superseded ? 'superseded' : 'missed-deadline');
      else this.emit('warning', error as Error);
    } finally {
      done.abort();
      this.training = null;
      this.busy = false;
    }
    if (!this.stopped) {
      await this.publishStatus(this.idleState()).catch((e: Error) => this.emit('warning', e));
      void this.maybeTrain();
    }
  }

  /** Encodes the update (with error feedback when the codec keeps a residual) and sends it, unless the gate says it is late. */
  private async report(round: RoundMessage, codec: Codec, start: Float32Array, outcome: TrainOutcome): Promise<void> {
    const delta = new Float32Array(outcome.weights.length);
    for (let i = 0; i < delta.length; i++) delta[i] = outcome.weights[i]! - start[i]!;
    // Local DP: clipped and noised before anything else sees it; the codec and error feedback work on the noised update.
    this.localDp?.privatize(delta);
    if (this.secure?.round === round) return this.reportMasked(this.secure, round, delta, outcome);
    const rng = Rng.derive(round.seed, 'codec', this.deviceId);
    // Error feedback: add what earlier rounds left out, and keep what this one leaves out.
    const feedback = codec.errorFeedback ? await this.residuals.load(this.deviceId, delta.length, codec.spec) : null;
    const update = encodeMessage(build.update({
      round: round.round, deviceId: this.deviceId, numExamples: this.options.data.train.count, codec: codec.spec,
      delta: feedback ? feedback.encode(codec, delta, rng) : codec.encode(delta, rng),
      metrics: { ...outcome.metrics, loss: outcome.loss }, trainMs: outcome.ms,
    }));
    if ((await this.gate?.({ round, outcome: 'update', bytes: update.byteLength })) === 'late') return this.skip(round, 'missed-deadline');
    const payload = Buffer.from(update.buffer, 0, update.byteLength);
    this.sent = { key: roundKey(round), round, payload, resent: false };
    await this.client.publishAsync(this.topics.update(this.deviceId), payload, { qos: 1 });
    // Saved once the update is out: a failed publish must not drop the residual it carried.
    if (feedback) await this.residuals.save(this.deviceId, codec.spec, feedback);
    this.emit('updatePublished', { round: round.round, bytes: update.byteLength, trainMs: outcome.ms, loss: outcome.loss, metrics: outcome.metrics });
  }

  /** `--secagg`: a secure round for `round`, its keys sent now (its shares go while the device trains). */
  private async openSecure(round: RoundMessage, settings: NonNullable<TaskMessage['secagg']>): Promise<void> {
    this.secure?.abandon();
    this.secure = new SecAggSession(round, this.deviceId, this.topics.fleet, settings, {
      publish: (payload) => this.client.publishAsync(this.topics.update(this.deviceId), Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: 1 }).then(() => undefined),
      warn: (e) => this.emit('warning', e),
      leave: async () => {
        await this.publishStatus(DeviceState.Offline);
        await this.publishStatus(this.idleState());
      },
      step: (info) => this.emit('secaggStep', info),
    });
    await this.secure.start();
  }

  /** `--secagg`: the update quantized and masked (device-agent/secagg.ts) instead of encoded; late, or a simulated dropout, sends nothing. */
  private async reportMasked(session: SecAggSession, round: RoundMessage, delta: Float32Array, outcome: TrainOutcome): Promise<void> {
    const input = session.quantize(delta);
    this.secaggDeps.secaggInput?.(round.round, input);
    if ((await this.gate?.({ round, outcome: 'update', bytes: maskedBytes(input.length) })) === 'late') {
      session.abandon();
      return this.skip(round, 'missed-deadline');
    }
    session.supply(input, {
      drop: this.secaggDeps.secaggDropout?.(round) ?? false,
      sent: (bytes) => this.emit('updatePublished', { round: round.round, bytes, trainMs: outcome.ms, loss: outcome.loss, metrics: outcome.metrics }),
      dropped: () => void this.dropOut(round),
    });
  }

  /**
   * Answers an `evaluate` round (the global on the held-out share: loss, metrics and their sums;
   * count 0 with a reason when there is nothing to evaluate on) or a `statistics` round (per
   * feature, count, sum and sum of squares of the training readings after the task's
   * `input.scale`). Only these aggregates leave the device.
   */
  private async answer(round: RoundMessage, task: TaskMessage['task'], weights: Float32Array | null): Promise<void> {
    this.busy = true;
    this.lastRound = roundKey(round);
    try {
      const reply = weights === null
        ? statisticsReply(round, this.deviceId, this.options.data, task)
        : await evaluationReply(round, this.deviceId, this.options.data, task, weights, this.trainer);
      await this.client.publishAsync(this.topics.update(this.deviceId), Buffer.from(reply.payload.buffer, reply.payload.byteOffset, reply.payload.byteLength), { qos: 1 });
      if (reply.kind === 'statistics') this.emit('statisticsSent', { round: round.round, count: reply.count });
      else this.emit('evaluated', { round: round.round, globalVersion: round.globalVersion, count: reply.count, loss: reply.loss, metrics: reply.metrics });
    } catch (error) {
      this.emit('warning', error as Error);
    } finally {
      this.busy = false;
    }
    if (!this.stopped) void this.maybeTrain();
  }

  /** The coordinator stops waiting for a participant it saw go offline during the round. */
  private async dropOut(round: RoundMessage): Promise<void> {
    this.skip(round, 'dropped-out');
    this.busy = true;
    try {
      await this.gate?.({ round, outcome: 'dropout', bytes: 0 });
      await this.publishStatus(DeviceState.Offline);
      await this.gate?.({ round, outcome: 'rejoin', bytes: 0 });
      await this.publishStatus(this.idleState());
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

  /** Publishes the retained status: with the resources read now (when the agent reads them), and while `busy` the reason. */
  private async publishStatus(state: DeviceState): Promise<void> {
    const resources = this.resources && state !== DeviceState.Offline ? await this.readResources() : undefined;
    // The wire takes a reason of up to 128 characters.
    const reason = state === DeviceState.Busy && this.declining !== null ? clip(this.declining, MAX_REASON_LENGTH) : undefined;
    const status = build.status({
      deviceId: this.deviceId, state, ts: this.clock.now(),
      capabilities: {
        cpus: os.cpus().length, memoryMb: Math.round(os.totalmem() / 2 ** 20),
        backend: currentBackend() ?? 'none', samples: this.options.data.train.count,
      },
      ...(resources && { resources }),
      ...(reason !== undefined && { reason }),
    });
    await this.client.publishAsync(this.topics.status(this.deviceId), Buffer.from(encodeMessage(status)), { qos: 1, retain: true });
    this.emit('status', state, { ...(reason !== undefined && { reason }), ...(resources && { resources }) });
  }
}

/** The longest `reason` a status carries (protocol/wire.ts). */
const MAX_REASON_LENGTH = 128;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

/** What tells one round message from another: an evaluate round may share its training round's number and (simulated) deadline. */
function roundKey(round: RoundMessage): string {
  return `${round.kind ?? 'train'} ${round.round}@${round.deadline}`;
}
