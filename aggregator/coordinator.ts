import type { IConnackPacket, MqttClient } from 'mqtt';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  DecodeError,
  DeviceState,
  Rng,
  TypedEmitter,
  build,
  decodeMessage,
  encodeMessage,
  fleetTopics,
  parseTopic,
  systemClock,
  type Clock,
  type FederatedMetrics,
  type FleetTopics,
  type RoundMessage,
  type SyncMessage,
  type Task,
  sha256Hex,
  parseTask,
  taskLayout,
} from '../protocol/index.js';
import { taskInitialWeights } from '../learning/index.js';
import { GlobalBroadcaster, type GlobalRelease } from './broadcast.js';
import { CatchUpDesk } from './catchUp.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { parseCoordinatorOptions, type CoordinatorOptions, type CoordinatorSettings } from './options.js';
import { DeviceRegistry } from './registry.js';
import type { CoordinatorDeps, CoordinatorEvents, Evaluator, RoundReport } from './contract.js';
import { RoundCollection, type Closing, type UpdateVerdict } from './round.js';
import { PhaseCollection, fleetEvaluation, fleetStatistics } from './phase.js';
import { Outbox } from './outbox.js';
import { eligibleDevices, selectParticipants, type Criterion } from './selection.js';
import { createPrivacyRun, type PrivacyRun } from './privacy.js';
import { AdaptiveNormBound, type Strategy } from './strategies/index.js';
import { SecureRound } from './secureRound.js';

export type { CoordinatorDeps, CoordinatorEvents, Evaluator, RoundReport } from './contract.js';

/** A `sync` is a few dozen bytes; anything larger on `update/{id}` is something else. */
const MAX_SYNC_BYTES = 256;

/** How long a coordinator that could not choose enough devices waits before it looks again. */
const RETRY_MS = 1000;

/**
 * The round coordinator: announce -> collect -> close -> aggregate -> evaluate -> publish,
 * once per round, over an already-connected MQTT client (DESIGN.md, Roles and data flow).
 */
export class Coordinator extends TypedEmitter<CoordinatorEvents> {
  readonly options: CoordinatorOptions;
  readonly registry = new DeviceRegistry();
  protected readonly topics: FleetTopics;
  private readonly client: MqttClient;
  /** The configured strategy: its name and state go into checkpoints. */
  protected readonly strategy: Strategy;
  /** What aggregates: `strategy`, inside the default influence bound unless `influence` is off. */
  protected readonly aggregator: Strategy;
  /** The influence bound around `strategy`, null when `influence` is off. */
  protected readonly influence: AdaptiveNormBound | null;
  /** `--dp`: the accountant (and, central, the strategy that clips and noises), null without. */
  protected readonly privacy: PrivacyRun | null;
  /** Central evaluation, when the options ask for it. */
  protected readonly evaluate: Evaluator | null;
  /** The task as published: a `fleet` standardisation becomes numbers once the statistics are in. */
  protected task: Task;
  /** The open `evaluate` or `statistics` round, if any. */
  private phase: PhaseCollection | null = null;
  /** The last federated evaluation, by the global version it evaluated. */
  private lastFederated: FederatedMetrics | null = null;
  protected readonly criterion: Criterion | undefined;
  /** The one clock: deadlines are set and checked on it, and every wait ends on it. */
  protected readonly clock: Clock;
  /** The global the fleet holds: devices train from it and it is what is evaluated. */
  protected global: Float32Array;
  /**
   * The aggregator's own model, from which strategies step: `global` itself, except with a
   * downlink's server-side error feedback (`delta:SPEC+ef`), where the fleet holds its
   * compressed image and the gap goes out with the next step.
   */
  protected target: Float32Array;
  protected readonly broadcaster: GlobalBroadcaster;
  /** Answers devices that missed versions; counts what they download that way. */
  protected readonly catchUps: CatchUpDesk;
  private collection: RoundCollection | null = null;
  /** Aborts the current wait: a message arrived, or stop(). */
  private waking: AbortController | null = null;
  /** Something happened while the coordinator was not waiting (publishing, evaluating): its next wait ends at once. */
  private woken = false;
  protected stopped = false;
  /** Number of the last round message sent. */
  protected announced = 0;
  private readonly onMessage = (topic: string, payload: Buffer): void => this.handle(topic, payload);
  private readonly onConnect = (connack: IConnackPacket): void => void this.restore(connack.sessionPresent === true);
  /** Every publish, in order; it remembers the retained task, global and metrics for a restarted broker. */
  private readonly outbox: Outbox;
  /** Wraps a task, global, step or round message in the aggregator's signed envelope (`deps.signer`); as it is without one. */
  protected readonly seal: (payload: Uint8Array) => Uint8Array;
  /** The last round message sent. */
  protected lastRound: Buffer | null = null;
  /** Version 0 is the task's seeded initialisation, which a device can build itself (`task.init`). */
  private seededStart: boolean;

  constructor(options: CoordinatorSettings, deps: CoordinatorDeps) {
    super();
    this.options = parseCoordinatorOptions(options);
    this.topics = fleetTopics(this.options.fleet);
    this.client = deps.client;
    this.outbox = new Outbox(this.client, (topic) => topic !== this.topics.round);
    this.strategy = deps.strategy ?? this.options.strategy;
    this.privacy = this.options.dp ? createPrivacyRun(this.options.dp, this.strategy, deps.dpNoise) : null;
    // Central DP's clip bounds every update; the adaptive bound, set by other devices' norms, would break its sensitivity.
    this.influence = this.options.influence === 'adaptive' && !this.privacy?.strategy ? new AdaptiveNormBound(this.strategy) : null;
    this.aggregator = this.privacy?.strategy ?? this.influence ?? this.strategy;
    if (this.options.evaluate.includes('central') && !deps.evaluate) throw new TypeError('central evaluation needs an evaluator (deps.evaluate)');
    this.evaluate = this.options.evaluate.includes('central') ? deps.evaluate ?? null : null;
    this.criterion = deps.criterion;
    this.clock = deps.clock ?? systemClock;
    const signer = deps.signer;
    this.seal = signer ? (payload) => signer.seal(this.options.fleet, payload) : (payload) => payload;
    this.task = this.options.task;
    const paramCount = taskLayout(this.task).paramCount;
    this.broadcaster = new GlobalBroadcaster(this.options.downlink, this.options.seed, this.seal);
    this.catchUps = new CatchUpDesk(this.broadcaster);
    this.seededStart = deps.initialWeights === undefined;
    this.global = deps.initialWeights ?? taskInitialWeights(this.task, this.options.seed);
    if (this.global.length !== paramCount) {
      throw new RangeError(`initial weights have ${this.global.length} values, task ${this.task.name} has ${paramCount}`);
    }
    this.target = this.global;
  }

  /** Bytes a device downloads to hold the current global (full copy or delta). */
  get downloadBytes(): number {
    return this.broadcaster.downloadBytes;
  }

  /** The current global weights (a view: do not modify). */
  get weights(): Float32Array {
    return this.global;
  }

  /** Runs every round and resolves with their reports; `stop()` ends it early. */
  async run(): Promise<RoundReport[]> {
    const o = this.options;
    this.client.on('message', this.onMessage);
    // The client connects again by itself (the broker restarted, the network dropped): from then
    // on, the broker may have lost the subscriptions and the retained task, global and round.
    this.client.on('connect', this.onConnect);
    try {
      await this.client.subscribeAsync(this.subscriptions, { qos: 1 });
      const first = await this.resume();
      await this.publishTask();
      await this.publishGlobal(this.release(this.global, first - 1));
      await this.waitForDevices();
      if (this.task.preprocessing?.standardize === 'fleet' && !this.stopped) await this.gatherStatistics(first);
      const reports: RoundReport[] = [];
      for (let round = first; round <= o.rounds && !this.stopped; round++) {
        const report = await this.runRound(round);
        if (!report) continue;
        reports.push(report);
        // A round cut short by stop() that changed nothing is run again after a restart.
        if (o.checkpoint !== undefined && (report.closedBy !== 'stopped' || report.aggregated)) {
          await saveCheckpoint(o.checkpoint, {
            // The aggregator's own model: after a restart it goes out whole, so the fleet catches up on every gap.
            model: this.task.name, round, version: this.broadcaster.currentVersion, announced: this.announced, weights: this.target,
            strategy: { name: this.strategy.name, state: { ...this.strategy.saveState(), ...this.privacy?.saveState() } },
          });
        }
        if (o.targetAccuracy !== undefined && report.accuracy >= o.targetAccuracy) break;
      }
      return reports;
    } finally {
      this.client.off('message', this.onMessage);
      this.client.off('connect', this.onConnect);
    }
  }

  private get subscriptions(): string[] {
    return [this.topics.allStatus, this.topics.allUpdates];
  }

  /**
   * After a reconnect: subscribes again when the broker kept no session (mqtt.js renews the
   * subscriptions it knows of itself; this covers a client made without `resubscribe`), then
   * publishes the retained state again, in the order a device needs it: task, global, the open
   * round(s), metrics. QoS 1 and retained, like the originals, and in the same queue as every
   * other publish, so what goes out is the newest state and nothing newer is overtaken. A device
   * that joins the restarted broker gets the task, the global and the round to train for.
   */
  private async restore(sessionPresent: boolean): Promise<void> {
    let topics: string[];
    try {
      if (!sessionPresent) await this.client.subscribeAsync(this.subscriptions, { qos: 1 });
      const t = this.topics;
      topics = await this.outbox.republish([t.task, t.global, this.openRounds(), t.metrics], t.round);
    } catch {
      // The client was ended (stop, or its owner closed it): there is nothing to restore to.
      return;
    }
    this.emit('republished', { sessionPresent, resubscribed: !sessionPresent, topics });
  }

  /** Round messages devices may still answer, oldest first: the open round's, if any. */
  protected openRounds(): Buffer[] {
    return (this.collection?.open || this.phase?.open) && this.lastRound ? [this.lastRound] : [];
  }

  /** Takes up the checkpoint, if there is one; returns the first round to run. */
  private async resume(): Promise<number> {
    const o = this.options;
    const saved = o.checkpoint === undefined ? null : await loadCheckpoint(o.checkpoint, this.task.name, this.global.length);
    if (!saved) return 1;
    this.seededStart = false;
    this.global = saved.weights;
    this.target = saved.weights;
    this.broadcaster.resumeAt(saved.version);
    this.announced = saved.announced;
    // The server's state (momentum, moments) goes on only under the strategy that built it.
    const state = saved.strategy?.name === this.strategy.name ? saved.strategy.state : {};
    this.strategy.loadState(state);
    // The epsilon spent goes on whatever the strategy: a resumed run never forgets it.
    this.privacy?.loadState(saved.strategy?.state ?? {});
    this.emit('resumed', {
      file: o.checkpoint!, round: saved.round, version: saved.version,
      strategy: this.strategy.name, restoredState: Object.keys(state), savedStrategy: saved.strategy?.name ?? null,
    });
    return saved.round + 1;
  }

  /** One new global: a synchronous round; async mode's is a full buffer. Null when stopped first. */
  protected async runRound(round: number): Promise<RoundReport | null> {
    return this.runSyncRound(round);
  }

  /** Ends the run after the current phase; the open round closes now. */
  stop(): void {
    this.stopped = true;
    this.wake();
  }

  protected async waitForDevices(): Promise<void> {
    const o = this.options;
    const deadline = this.clock.now() + o.waitForDevicesMs;
    let last = -1;
    while (!this.stopped) {
      const online = this.registry.online().length;
      if (online !== last) this.emit('waiting', online, o.minDevices);
      last = online;
      if (online >= o.minDevices) return;
      const now = this.clock.now();
      if (now >= deadline && online >= o.minParticipants) return;
      await this.sleepUntil(now < deadline ? deadline : now + RETRY_MS);
    }
  }

  private async runSyncRound(round: number): Promise<RoundReport | null> {
    const o = this.options;
    const started = performance.now();
    const participants = selectParticipants(this.registry.all(), { ...o, criterion: this.criterion }, Rng.derive(o.seed, 'select', round));
    if (participants.length < o.minParticipants) {
      await this.waitForEligible(participants.length, o.minParticipants);
      if (this.stopped) return null;
      return this.runSyncRound(round);
    }
    if (this.privacyStops(round, participants.length)) return null;
    const message = this.roundMessage(round, participants);
    const collection = o.secagg ? this.secureRound(message) : new RoundCollection(message, o.codec, this.aggregator.beginRound(round, this.target), DEFAULT_MAX_MESSAGE_BYTES, this.examplesCap);
    this.collection = collection;
    const roundBytes = await this.announce(message);

    const closedBy = collection instanceof SecureRound ? await collection.run() : await this.collect(collection);
    if (collection instanceof SecureRound) this.emit('secureRound', collection.summary);
    const step = this.broadcaster.downloadBytes;
    const bytesDown = this.downloads(roundBytes * participants.length, new Map(participants.map((id) => [id, step])));
    const closing = this.closed(round, collection.close(this.quorum, this.aggregator));
    const evaluation = await this.evaluateAndPublish(closing.next ? this.release(closing.next, round) : null, round);
    const report: RoundReport = {
      round, ...evaluation, participants: participants.length, ...collection.counts(),
      bytesDown,
      wallMs: performance.now() - started, closedBy, missing: collection.outstanding(), ...this.outcome(closing),
    };
    await this.publishReport(report);
    return report;
  }

  /**
   * Bytes devices downloaded toward one new global: `messageBytes` of round messages; for each
   * participant, the global's step it was sent off with (`steps`), unless a catch-up replaced it;
   * and every catch-up sent since the last call, chosen or not (a follower that missed a step).
   */
  protected downloads(messageBytes: number, steps: ReadonlyMap<string, number>): number {
    const caughtUp = this.catchUps.take();
    let bytes = messageBytes;
    for (const [id, step] of steps) if (!caughtUp.has(id)) bytes += step;
    for (const sent of caughtUp.values()) bytes += sent;
    return bytes;
  }

  /** The most examples an update from `deviceId` counts for: what the device declared on joining. */
  protected readonly examplesCap = (deviceId: string): number => this.registry.examplesCap(deviceId);

  /**
   * `--dp`: plans round `round` (with `participants` of the eligible devices) with the
   * accountant; true, after `privacyStopped` and `stop()`, when the run must end before it.
   */
  protected privacyStops(round: number, participants: number): boolean {
    if (!this.privacy) return false;
    const eligible = eligibleDevices(this.registry.all(), { criterion: this.criterion }).length;
    const refusal = this.privacy.plan({ participants, eligible: Math.max(eligible, participants) });
    if (!refusal) return false;
    this.emit('privacyStopped', { round, epsilon: this.privacy.privacy().epsilon, ...refusal });
    this.stop();
    return true;
  }

  /** `--secagg`: the round is a SecAgg+ round over `update/{id}` and `to/{id}` (aggregator/secureRound.ts). */
  private secureRound(message: RoundMessage): SecureRound {
    const dp = this.privacy?.strategy;
    const eligible = eligibleDevices(this.registry.all(), { criterion: this.criterion }).length;
    const round = message.round;
    return new SecureRound(message, {
      fleet: this.options.fleet, clip: this.options.secagg!.clip, phaseMs: Math.max(1000, this.options.roundTimeoutMs / 4), strategy: dp?.inner ?? this.strategy, global: this.target,
      ...(dp && { dp: { strategy: dp, sampling: { participants: message.participants.length, eligible: Math.max(eligible, message.participants.length) } } }),
    }, {
      now: () => this.clock.now(), sleepUntil: (at) => this.sleepUntil(at), stopped: () => this.stopped, isOnline: (id) => this.registry.isOnline(id),
      send: (id, payload) => this.publish(this.topics.to(id), payload, false),
      accepted: (deviceId, bytes) => this.emit('updateAccepted', { round, deviceId, bytes }),
      refused: (deviceId, reason, detail) => this.emit('updateRejected', { round, deviceId, reason, detail }),
    });
  }

  /** Tells `aggregateRefused` when the strategy's step was thrown away for not being finite. */
  protected closed(round: number, closing: Closing): Closing {
    if (closing.kept?.reason === 'non-finite') this.emit('aggregateRefused', { round, ...closing.kept });
    return closing;
  }

  /** What a report says of how a collection closed. */
  protected outcome(closing: Closing): Pick<RoundReport, 'aggregated' | 'kept' | 'influence' | 'privacy'> {
    return {
      aggregated: closing.next !== null,
      ...(closing.kept && { kept: closing.kept }),
      ...(this.influence && { influence: { ...this.influence.last } }),
      ...(this.privacy && { privacy: this.privacy.privacy() }),
    };
  }

  /** The round message that sends `participants` off to train from the current global. */
  protected roundMessage(round: number, participants: string[]): RoundMessage {
    const o = this.options;
    const now = this.clock.now();
    return build.round({
      round, globalVersion: this.broadcaster.currentVersion, participants, deadline: now + o.roundTimeoutMs, issuedAt: now,
      codec: o.codec.spec, seed: Rng.derive(o.seed, 'round', round).nextUint32(),
      epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, mu: this.strategy.proximalMu ?? 0,
    });
  }

  /** Publishes a round message and returns its encoded size. */
  protected async announce(message: RoundMessage): Promise<number> {
    const bytes = this.seal(encodeMessage(message));
    this.announced = message.round;
    this.lastRound = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // Told before it goes out: a listener (a simulator's clock) learns of the round before any
    // participant can answer it.
    this.emit('roundStarted', message);
    await this.publish(this.topics.round, bytes);
    return bytes.byteLength;
  }

  /** The `metrics` summary of a closed round, then `roundClosed`. */
  protected async publishReport(report: RoundReport): Promise<void> {
    const { evalMs: _e, trainMsMax: _t, closedBy: _c, missing: _m, aggregated: _a, staleness: _s, kept: _k, influence: _i, ...summary } = report;
    await this.publish(this.topics.metrics, encodeMessage(build.metrics(summary)));
    this.emit('roundClosed', report);
  }

  /** Waits until every participant reported, the rest went offline (even briefly), the deadline, or stop(). */
  private async collect(c: RoundCollection): Promise<RoundReport['closedBy']> {
    for (;;) {
      if (this.stopped) return 'stopped';
      const outstanding = c.outstanding();
      if (outstanding.length === 0) return 'complete';
      if (outstanding.every((id) => c.departed.has(id) || !this.registry.isOnline(id))) return 'dropouts';
      if (this.clock.now() >= c.message.deadline) return 'deadline';
      await this.sleepUntil(c.message.deadline);
    }
  }

  /**
   * Fewer than `needed` devices could be chosen: wait for devices when too few are online, else
   * (the criterion, or all busy) tell `starved` and look again in a second.
   */
  protected async waitForEligible(eligible: number, needed: number): Promise<void> {
    if (this.registry.online().length < this.options.minParticipants) return this.waitForDevices();
    const retryAt = this.clock.now() + RETRY_MS;
    this.emit('starved', eligible, needed, retryAt);
    await this.sleepUntil(retryAt);
  }

  /** Updates a new global needs: Krum needs 2F + 3, so the strategy's own minimum raises the quorum. */
  protected get quorum(): number {
    return Math.max(this.options.quorum, this.strategy.minUpdates ?? 1);
  }

  /**
   * Evaluates the global devices will hold (a lossy downlink makes it differ from what was
   * aggregated): centrally before it is published, and on the fleet's held-out data after (an
   * `evaluate` round). `accuracy` and `loss` are central evaluation's when there is one, else the
   * fleet's; NaN when nothing measured them (a regression task has no accuracy).
   */
  protected async evaluateAndPublish(release: GlobalRelease | null, round: number): Promise<Pick<RoundReport, 'accuracy' | 'loss' | 'evalMs' | 'central' | 'federated'>> {
    const started = performance.now();
    const central = this.evaluate ? await this.evaluate(this.global, this.task) : null;
    const evalMs = performance.now() - started;
    if (release) await this.publishGlobal(release);
    const federated = this.options.evaluate.includes('federated') && !this.stopped ? await this.evaluateOnFleet(round) : null;
    const main = central ?? (federated && { loss: federated.loss, metrics: federated.metrics });
    return {
      accuracy: main?.metrics.accuracy ?? NaN, loss: main?.loss ?? NaN, evalMs,
      ...(central && { central: central.metrics }), ...(federated && { federated }),
    };
  }

  /**
   * An `evaluate` round: the online devices evaluate the current global on their held-out data
   * and the aggregator pools their sums. Once per global version (a round that kept the global
   * reports the evaluation it already has). Null when no device had held-out data.
   */
  private async evaluateOnFleet(round: number): Promise<FederatedMetrics | null> {
    const version = this.broadcaster.currentVersion;
    if (this.lastFederated?.globalVersion === version) return this.lastFederated;
    const replies = await this.runPhase('evaluate', round, version);
    if (!replies) return null;
    const result = fleetEvaluation(this.task, version, replies.replies.values());
    this.lastFederated = result;
    return result;
  }

  /**
   * Before round `round`: asks the online devices for per-feature moments of their training
   * data, and publishes the task again with the fleet's mean and std in place of `fleet`.
   * Without any answer the task stays as it was and the run cannot train: it stops.
   */
  private async gatherStatistics(round: number): Promise<void> {
    const features = this.task.input.shape[this.task.input.shape.length - 1] as number;
    const replies = await this.runPhase('statistics', round, this.broadcaster.currentVersion);
    const stats = replies && fleetStatistics(features, replies.replies.values());
    if (!stats) {
      if (!this.stopped) throw new Error(`no device sent feature statistics for the task's ${features} features: the task standardises with the fleet's statistics and cannot train without them`);
      return;
    }
    const task = { ...this.task, preprocessing: { ...this.task.preprocessing, standardize: { mean: stats.mean, std: stats.std } } };
    // Checked as a device will check it: statistics outside a task's bounds would make every device refuse the task.
    try {
      this.task = parseTask(task);
    } catch (e) {
      throw new Error(`the fleet's feature statistics do not make a valid task (${(e as Error).message})`, { cause: e });
    }
    await this.publishTask();
    this.emit('statisticsGathered', stats);
  }

  /** Announces an `evaluate` or `statistics` round to the online devices and collects their replies until all answered, left, or the deadline. */
  private async runPhase(kind: 'evaluate' | 'statistics', round: number, globalVersion: number): Promise<PhaseCollection | null> {
    // A busy device declines work; evaluating is work too.
    const participants = this.registry.all().filter((d) => d.state === 'online' || d.state === 'training').map((d) => d.deviceId).sort();
    if (participants.length === 0) return null;
    const o = this.options;
    const now = this.clock.now();
    const message = build.round({
      kind, round, globalVersion, participants, deadline: now + o.roundTimeoutMs, issuedAt: now,
      codec: o.codec.spec, seed: Rng.derive(o.seed, kind, round).nextUint32(), epochs: o.epochs, batchSize: o.batchSize, lr: o.lr,
    }) as RoundMessage & { kind: typeof kind };
    const phase = new PhaseCollection(message);
    this.phase = phase;
    this.lastRound = Buffer.from(this.seal(encodeMessage(message)));
    this.emit('phaseStarted', message);
    try {
      await this.publish(this.topics.round, this.lastRound);
      for (;;) {
        if (this.stopped) break;
        const outstanding = phase.outstanding();
        if (outstanding.length === 0 || outstanding.every((id) => phase.departed.has(id) || !this.registry.isOnline(id))) break;
        if (this.clock.now() >= message.deadline) break;
        await this.sleepUntil(message.deadline);
      }
    } finally {
      // Kept, closed: a reply that comes after is refused as late rather than taken for an update.
      phase.open = false;
    }
    return phase;
  }

  private async publishTask(): Promise<void> {
    const o = this.options;
    await this.publish(this.topics.task, this.seal(encodeMessage(build.task({
      model: this.task.name, task: this.task, paramCount: this.global.length,
      codec: o.codec.spec, downlink: this.broadcaster.downlink.spec, defaults: { epochs: o.epochs, batchSize: o.batchSize, lr: o.lr },
      mode: o.mode, ...(o.mode === 'async' && { buffer: o.buffer }),
      ...(this.seededStart && { init: { seed: o.seed, sha256: sha256Hex(taskInitialWeights(this.task, o.seed)) } }),
      ...(this.privacy?.taskDp && { dp: this.privacy.taskDp }),
      ...(o.secagg && { secagg: { clip: o.secagg.clip, ...(o.dp && !o.dp.local && o.dp.clip.kind === 'fixed' && { normClip: o.dp.clip.norm }) } }),
    }))));
  }

  /** Sleeps until `at` on the clock, or until something the coordinator waits on happens (`wake`). */
  protected async sleepUntil(at: number): Promise<void> {
    if (this.woken) {
      // A wake that came while the coordinator was busy is not lost: it looks again first.
      this.woken = false;
      return;
    }
    const waking = new AbortController();
    this.waking = waking;
    try {
      await this.clock.sleepUntil(at, waking.signal);
    } finally {
      if (this.waking === waking) this.waking = null;
    }
  }

  /** Ends the current wait: a message arrived, or stop(). */
  protected wake(): void {
    if (this.waking) this.waking.abort();
    else this.woken = true;
  }

  private handle(topic: string, payload: Buffer): void {
    const parsed = parseTopic(topic);
    if (!parsed || parsed.fleet !== this.options.fleet) return;
    if (parsed.kind === 'update') {
      if (this.serveSync(parsed.deviceId, payload)) return;
      if (this.collection instanceof SecureRound && this.collection.take(parsed.deviceId, payload)) return this.wake();
      // An evaluation or statistics reply goes to the open phase; an update to the round's collection.
      const reply = this.phase?.receive(parsed.deviceId, payload);
      if (reply && reply.kind !== 'not-mine') {
        if (reply.kind === 'refused') this.emit('replyRefused', { round: this.phase!.message.round, kind: this.phase!.message.kind, deviceId: parsed.deviceId, detail: reply.detail });
        this.wake();
        return;
      }
      this.receiveUpdate(parsed.deviceId, payload);
      this.wake();
    } else if (parsed.kind === 'status') {
      if (payload.byteLength === 0) {
        this.registry.remove(parsed.deviceId);
      } else {
        try {
          const status = decodeMessage('status', payload, { maxBytes: 64 * 1024 });
          if (status.deviceId !== parsed.deviceId) throw new DecodeError('bad-field', `status for ${status.deviceId} on ${topic}`);
          this.registry.apply(status, this.clock.now());
          if (status.state === DeviceState.Offline) this.deviceOffline(status.deviceId);
          this.emit('deviceStatus', this.registry.get(status.deviceId)!);
        } catch (error) {
          this.emit('invalidMessage', { topic, error: error as Error });
        }
      }
      this.wake();
    }
  }

  /**
   * A `sync` from a device that misses versions: the catch-up goes to `to/{id}`. Returns false
   * for anything that is not a sync (an update, a reply), for the round's collection to judge.
   */
  private serveSync(deviceId: string, payload: Buffer): boolean {
    if (payload.byteLength > MAX_SYNC_BYTES) return false;
    let sync: SyncMessage;
    try {
      sync = decodeMessage('sync', payload, { maxBytes: MAX_SYNC_BYTES });
    } catch {
      return false;
    }
    if (sync.deviceId !== deviceId || !this.registry.isOnline(deviceId)) {
      this.emit('invalidMessage', { topic: this.topics.update(deviceId), error: new DecodeError('bad-field', `a sync from ${sync.deviceId}, which is not an online device on its own topic`) });
      return true;
    }
    const reply = this.catchUps.answer(deviceId, sync);
    if (!reply) return true;
    const { message, ...sent } = reply;
    this.emit('catchUpSent', sent);
    this.publish(this.topics.to(deviceId), message, false).catch(() => undefined);
    return true;
  }

  /** An update arrived on `update/{deviceId}`: validate, fold in, tell. */
  protected receiveUpdate(deviceId: string, payload: Buffer): void {
    const c = this.collection;
    if (!c) return;
    const verdict = c.receive(deviceId, payload);
    this.told(c.message.round, deviceId, payload.byteLength, verdict);
  }

  protected told(round: number, deviceId: string, bytes: number, verdict: UpdateVerdict): void {
    if (verdict.accepted) this.emit('updateAccepted', { round, deviceId, bytes });
    else this.emit('updateRejected', { round, deviceId, reason: verdict.reason, detail: verdict.detail });
  }

  /** A device said it went offline (or its last will did): a participant's work is lost. */
  protected deviceOffline(deviceId: string): void {
    const c = this.collection;
    if (c?.open && c.message.participants.includes(deviceId)) c.departed.add(deviceId);
    if (this.phase?.open && this.phase.message.participants.includes(deviceId)) this.phase.departed.add(deviceId);
  }

  protected release(weights: Float32Array, round: number): GlobalRelease {
    const release = this.broadcaster.release(weights, round);
    this.global = release.weights;
    this.target = this.options.downlink.errorFeedback ? weights : release.weights;
    return release;
  }

  /** The delta first: devices holding the base apply it; the retained full copy serves the rest. */
  protected async publishGlobal(release: GlobalRelease): Promise<void> {
    if (release.delta) await this.publish(this.topics.globalDelta, release.delta, false);
    await this.publish(this.topics.global, release.full);
  }

  private publish(topic: string, payload: Uint8Array, retain = true): Promise<void> {
    return this.outbox.publish(topic, payload, retain);
  }
}
