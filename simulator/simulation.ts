import type { MqttClient } from 'mqtt';
import { ManualClock, OptionsError, TypedEmitter, type RoundMessage } from '../protocol/index.js';
import { startBroker, type BrokerHandle } from '../broker/index.js';
import { initBackend } from '../learning/index.js';
import { Coordinator, connectAggregator, createCoordinator, createEvaluator, type CoordinatorEvents, type DeviceRecord, type RoundReport } from '../aggregator/index.js';
import { DeviceAgent, LocalTrainer, connectDevice, type Trainer } from '../device-agent/index.js';
import { attackTrainer, chooseAttackers } from './attacks.js';
import { parseSimulationOptions, simulationSpecs, withFleetSize, type SimulationOptions, type SimulationSettings } from './options.js';
import { loadFleetData, type FleetDevice } from './fleetData.js';
import { assignProfiles, dropsOut, timedTrainer, type DeviceProfile } from './profiles.js';
import { LOCAL_PROFILE } from './simClock.js';
import { asyncTiming, syncTiming, type FleetTiming } from './fleetTiming.js';
import { AvailabilityTimeline } from './availability.js';
import { secaggDropsOut } from './secaggDropout.js';
import { TrainerPool } from './trainerPool.js';
import { MessageSigner } from '../privacy/index.js';
import { buildReport, reportRound, type PrivacyStop, type ReportRound, type RunReport } from './report.js';

export type SimulationEvents = {
  /** Set-up progress, in order: backend, trainers, data, broker, devices. */
  setup: [info: { stage: SetupStage; detail: string }];
  roundStarted: CoordinatorEvents['roundStarted'];
  roundClosed: [report: RoundReport, entry: ReportRound];
  updateAccepted: CoordinatorEvents['updateAccepted'];
  updateRejected: CoordinatorEvents['updateRejected'];
  resumed: CoordinatorEvents['resumed'];
  /** `--dp`: the run stops before round `round` (over budget, or too few participants for adaptive clipping). */
  privacyStopped: CoordinatorEvents['privacyStopped'];
  /** A device's non-fatal problem (bad message, failed training). */
  deviceWarning: [info: { deviceId: string; error: Error }];
  phaseStarted: CoordinatorEvents['phaseStarted'];
  statisticsGathered: CoordinatorEvents['statisticsGathered'];
  /** `secagg`: a secure round ended (its n, k, t, survivors, dropouts, or why it failed). */
  secureRound: CoordinatorEvents['secureRound'];
};

type SetupStage = 'backend' | 'trainers' | 'data' | 'broker' | 'devices';

const BATCH = 50;

/** Runs `fn` over `items`, `BATCH` at a time, and returns the results in order. */
async function inBatches<T, R>(items: T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let first = 0; first < items.length; first += BATCH) out.push(...(await Promise.all(items.slice(first, first + BATCH).map(fn))));
  return out;
}

/** What a run holds until it ends: closed in reverse order of opening. */
interface Held {
  /** The run's signing key (`sign`), when it signs. */
  signer?: MessageSigner | null;
  trainer: Trainer | null;
  evaluator: { dispose(): void } | null;
  broker: BrokerHandle | null;
  clients: MqttClient[];
  agents: DeviceAgent[];
  /** Set once the run is ending: training cut by the shutdown is not news. */
  closing: boolean;
}

/**
 * A fleet on one machine: an embedded Aedes (or an external broker), the coordinator and
 * N device agents, each with its own MQTT connection and its own data (an MNIST shard, or the
 * user's data split by a column or a partition: fleetData.ts), all on one simulated clock
 * (fleetTiming.ts).
 */
export class Simulation extends TypedEmitter<SimulationEvents> {
  readonly options: SimulationOptions;
  private coordinator: Coordinator | null = null;

  constructor(settings: SimulationSettings = {}) {
    super();
    this.options = parseSimulationOptions(settings);
  }

  /** Ends the run: the open round closes now with the updates it has; `run()` then resolves with the rounds so far. */
  stop(): void {
    this.coordinator?.stop();
  }

  async run(): Promise<RunReport> {
    let o = this.options;
    const started = performance.now();
    const phases: Record<string, number> = {};
    let mark = started;
    const stage = (name: SetupStage, detail: string): void => {
      const now = performance.now();
      phases[`${name}SetupMs`] = Math.round(now - mark);
      mark = now;
      this.emit('setup', { stage: name, detail });
    };
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
    const held: Held = { trainer: null, evaluator: null, broker: null, clients: [], agents: [], closing: false };
    try {
      const backend = await initBackend(o.backend);
      stage('backend', backend);
      // Workers load the backend this thread got, so training matches the main thread's bit for bit.
      const pool = o.workers > 0 ? new TrainerPool({ workers: o.workers, backend }) : null;
      held.trainer = pool ?? new LocalTrainer();
      if (pool) stage('trainers', `${pool.size} worker thread(s), ${(await pool.ready()).join(', ')}`);
      const fleetData = await loadFleetData(o, o.task);
      // A by:COLUMN split decides the fleet's size.
      if (fleetData.devices.length !== o.devices) o = withFleetSize(o, fleetData.devices.length);
      stage('data', fleetData.describe);
      const central = o.evaluate.includes('central') ? fleetData.central : null;
      if (o.evaluate.includes('central') && central === null) {
        throw new OptionsError('evaluate', 'central evaluation needs data for the aggregator (an evaluation file, --eval-data); use --evaluate federated');
      }
      const evaluator = central ? await createEvaluator(o.task, central) : null;
      held.evaluator = evaluator;
      let url = o.brokerUrl;
      if (url === undefined) {
        held.broker = await startBroker({ host: '127.0.0.1', port: 0 });
        url = held.broker.url;
      }
      stage('broker', url);

      const ids = fleetData.devices.map((d) => d.id);
      const profiles = o.profiles === undefined ? new Map<string, DeviceProfile>() : assignProfiles(ids, o.profiles, o.seed);
      const profileOf = (id: string): DeviceProfile => profiles.get(id) ?? LOCAL_PROFILE;
      // The fleet's one clock. It starts at 0, not at the wall time: sums of simulated times at
      // the magnitude of today's epoch round differently from run to run, and would break ties
      // between devices that finish together differently too (so round messages carry times since
      // the start; the monitor counts down deadline - issuedAt, which does not mind).
      const clock = new ManualClock(0);
      const timing = o.mode === 'async' ? asyncTiming(clock, profileOf) : syncTiming(clock, profiles, pool !== null);

      const control = await connectAggregator({ url, fleet: o.fleet, ...o.security?.aggregator });
      held.clients.push(control);
      // `sign`: a key for this run only; every device trusts it.
      held.signer = o.sign ? MessageSigner.ephemeral() : null;
      const coordinator = createCoordinator(o, {
        client: control, ...(held.signer && { signer: held.signer }), clock, criterion: availability(profiles, o.seed, clock),
        ...(evaluator && { evaluate: evaluator }), ...(o.initialWeights && { initialWeights: o.initialWeights }),
      });
      this.coordinator = coordinator;
      timing.attach(coordinator);
      // Nobody can be chosen: the fleet idles a round timeout (at least until the coordinator looks again).
      coordinator.on('starved', (_eligible, _needed, retryAt) => timing.idle(Math.max(o.roundTimeoutMs, retryAt - clock.now())));
      let privacyStop: PrivacyStop | undefined;
      coordinator.on('privacyStopped', (info) => (privacyStop = info));
      for (const event of ['roundStarted', 'resumed', 'updateAccepted', 'updateRejected', 'phaseStarted', 'statisticsGathered', 'privacyStopped', 'secureRound'] as const) {
        coordinator.on(event, (...args: unknown[]) => (this.emit as (e: string, ...a: unknown[]) => void)(event, ...args));
      }
      const rounds: ReportRound[] = [];
      coordinator.on('roundClosed', (r) => {
        const entry = { ...reportRound(r), ...timing.closeRound(r) };
        rounds.push(entry);
        this.emit('roundClosed', r, entry);
      });

      const attackers = await this.startDevices(o, url, fleetData.devices, clock, timing, profileOf, held);
      const connected = held.clients.filter((c) => c.connected).length - 1;
      stage('devices', `${connected} devices connected`);

      await coordinator.run();
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      const profileCounts: Record<string, number> = {};
      for (const p of profiles.values()) profileCounts[p.name] = (profileCounts[p.name] ?? 0) + 1;
      const fleet = {
        devices: o.devices, connected, attackers, peakRssMb: Math.round(peakRss / 2 ** 20),
        ...(profiles.size > 0 && { profiles: profileCounts }),
      };
      return buildReport(simulationSpecs(o), backend, rounds, performance.now() - started, { fleet, phases, ...(privacyStop && { privacyStop }) });
    } finally {
      held.closing = true;
      clearInterval(sampler);
      // In batches too: a thousand goodbyes at once overflow Aedes's recursive dispatch.
      await inBatches(held.agents, (a) => a.stop());
      await inBatches(held.clients, (c) => c.endAsync().catch(() => undefined));
      held.trainer?.dispose();
      held.evaluator?.dispose();
      await held.broker?.close();
    }
  }

  /**
   * Connects and starts one agent per id, in batches (one at a time is slow at 1,000 devices,
   * all at once floods the broker); returns how many are malicious.
   */
  private async startDevices(
    o: SimulationOptions,
    url: string,
    devices: FleetDevice[],
    clock: ManualClock,
    timing: FleetTiming,
    profileOf: (id: string) => DeviceProfile,
    held: Held,
  ): Promise<number> {
    const trainer = held.trainer!;
    const ids = devices.map((d) => d.id);
    const attackers = o.attack ? chooseAttackers(ids, o.attack.fraction, o.seed) : new Set<string>();
    // Every device's login or certificate is found before the first connects.
    const security = new Map(ids.map((id) => [id, o.security?.device(id)]));
    const poisoned = o.attack ? attackTrainer(trainer, o.attack, o.seed) : trainer;
    held.agents.push(...(await inBatches(devices, async ({ id, examples }) => {
      const client = await connectDevice({ url, deviceId: id, fleet: o.fleet, ...security.get(id) });
      held.clients.push(client);
      const profile = profileOf(id);
      // Simulated training time: a fixed cost per example when given (reproducible), else the time measured here.
      const timed = timedTrainer(attackers.has(id) ? poisoned : trainer, (ms, job) =>
        timing.trained(id, o.msPerExample === undefined ? ms : o.msPerExample * job.data.count * (job.options.epochs ?? job.task.training.epochs)));
      const agent = new DeviceAgent(client, { deviceId: id, fleet: o.fleet, data: examples, follow: o.follow }, {
        trainer: timed, clock, gate: timing.gate(id),
        dropout: (round) => dropsOut(profile, o.seed, round.round, id),
        ...(o.secaggDropout > 0 && { secaggDropout: (round: RoundMessage) => secaggDropsOut(o.secaggDropout, o.seed, round, id) }),
        ...(held.signer && { trust: held.signer.trust(o.fleet) }),
      });
      // As a refused message's warning: the device will not answer what it refused.
      agent.on('untrusted', (u) => {
        timing.failed(id);
        if (!held.closing) this.emit('deviceWarning', { deviceId: id, error: new Error(`refused ${u.detail} (${u.reason})`) });
      });
      agent.on('updatePublished', () => timing.finished(id));
      agent.on('roundSkipped', ({ round, reason }) => {
        if (reason === 'dropped-out') timing.droppedOut(id, round);
        timing.finished(id);
      });
      agent.on('warning', (error) => {
        timing.failed(id);
        if (!held.closing) this.emit('deviceWarning', { deviceId: id, error });
      });
      await agent.start();
      return agent;
    })));
    return attackers.size;
  }
}

/** Profiles with availability < 1: a device can be chosen only while its timeline says online. */
function availability(profiles: ReadonlyMap<string, DeviceProfile>, seed: number, clock: ManualClock): ((d: DeviceRecord) => boolean) | undefined {
  const timelines = new Map([...profiles].filter(([, p]) => (p.availability ?? 1) < 1).map(([id, p]) => [id, new AvailabilityTimeline(p, seed, id)]));
  if (timelines.size === 0) return undefined;
  return (d) => timelines.get(d.deviceId)?.isOnline(clock.now()) ?? true;
}

/** Runs a simulation to the end; the function form of `new Simulation(options).run()`. */
export function simulate(settings: SimulationSettings = {}): Promise<RunReport> {
  return new Simulation(settings).run();
}
