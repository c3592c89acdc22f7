import type { MqttClient } from 'mqtt';
import { TypedEmitter, encodeMessage } from '../protocol/index.js';
import { startBroker, type BrokerHandle } from '../broker/index.js';
import { loadMnist, parsePartition, partition, subset } from '../datasets/index.js';
import { initBackend } from '../learning/index.js';
import { Coordinator, connectAggregator, createCoordinator, createEvaluator, type CoordinatorEvents, type DeviceRecord, type RoundReport } from '../aggregator/index.js';
import { DeviceAgent, LocalTrainer, connectDevice, type FinishedWork, type Trainer } from '../device-agent/index.js';
import { attackTrainer, chooseAttackers, parseAttack } from './attacks.js';
import { parseSimulationOptions, type SimulationOptions } from './options.js';
import { assignProfiles, dropsOut, parseProfiles, timedTrainer, type DeviceProfile } from './profiles.js';
import { SimClock } from './simClock.js';
import { SimScheduler } from './scheduler.js';
import { AvailabilityTimeline } from './availability.js';
import { OrderedRelease } from './orderedRelease.js';
import { TrainerPool } from './trainerPool.js';
import { buildReport, reportRound, type ReportRound, type RunReport } from './report.js';

export type SimulationEvents = {
  /** Set-up progress, in order: backend, trainers, data, broker, devices. */
  setup: [info: { stage: 'backend' | 'trainers' | 'data' | 'broker' | 'devices'; detail: string }];
  roundStarted: CoordinatorEvents['roundStarted'];
  roundClosed: [report: RoundReport, entry: ReportRound];
  updateAccepted: CoordinatorEvents['updateAccepted'];
  updateRejected: CoordinatorEvents['updateRejected'];
  resumed: CoordinatorEvents['resumed'];
  /** A device's non-fatal problem (bad message, failed training). */
  deviceWarning: [info: { deviceId: string; error: Error }];
};

const BATCH = 50;
/** Sync mode's real-time deadline, a backstop for a hung run: rounds close by the simulated one. */
const REAL_DEADLINE_BACKSTOP_MS = 60 * 60_000;

/** Runs `fn` over `items`, `BATCH` at a time, and returns the results in order. */
async function inBatches<T, R>(items: T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let first = 0; first < items.length; first += BATCH) out.push(...(await Promise.all(items.slice(first, first + BATCH).map(fn))));
  return out;
}

/** Pads device numbers so ids sort in numeric order: device-007. */
export function deviceId(i: number, devices: number): string {
  return `device-${String(i).padStart(String(devices - 1).length, '0')}`;
}

/**
 * A fleet on one machine: an embedded Aedes (or an external broker), the coordinator and
 * N device agents, each with its own MQTT connection and its own MNIST shard.
 */
export class Simulation extends TypedEmitter<SimulationEvents> {
  readonly options: SimulationOptions;
  private coordinator: Coordinator | null = null;

  constructor(options: Partial<SimulationOptions> = {}) {
    super();
    this.options = parseSimulationOptions(options);
  }

  /** Ends the run after the open round; `run()` then resolves with the rounds so far. */
  stop(): void {
    this.coordinator?.stop();
  }

  async run(): Promise<RunReport> {
    const o = this.options;
    const started = performance.now();
    const phases: Record<string, number> = {};
    let mark = started;
    const stage = (name: SimulationEvents['setup'][0]['stage'], detail: string): void => {
      const now = performance.now();
      phases[`${name}SetupMs`] = Math.round(now - mark);
      mark = now;
      this.emit('setup', { stage: name, detail });
    };
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
    const backend = await initBackend(o.backend);
    stage('backend', backend);
    // Workers load the backend this thread got, so training matches the main thread's bit for bit.
    const pool = o.workers > 0 ? new TrainerPool({ workers: o.workers, backend }) : null;
    const trainer: Trainer = pool ?? new LocalTrainer();
    let broker: BrokerHandle | null = null;
    let evaluator: Awaited<ReturnType<typeof createEvaluator>> | null = null;
    const clients: MqttClient[] = [];
    const agents: DeviceAgent[] = [];
    let closing = false;
    try {
      if (pool) stage('trainers', `${pool.size} worker thread(s), ${(await pool.ready()).join(', ')}`);
      const { train, test } = await loadMnist();
      const shards = partition(train.y, o.devices, parsePartition(o.partition), o.seed);
      stage('data', `MNIST ${train.count} train / ${test.count} test, ${o.partition} over ${o.devices} devices`);
      evaluator = await createEvaluator(o.model, test);

      let url = o.brokerUrl;
      if (url === undefined) {
        broker = await startBroker({ host: '127.0.0.1', port: 0 });
        url = broker.url;
      }
      stage('broker', url);

      const rounds: ReportRound[] = [];
      const ids = Array.from({ length: o.devices }, (_, i) => deviceId(i, o.devices));
      const profiles = o.profiles === undefined ? new Map<string, DeviceProfile>() : assignProfiles(ids, parseProfiles(o.profiles), o.seed);
      // Sync rounds last as long as their slowest device; async work is released in simulated-time order.
      const clock = new SimClock(profiles, o.roundTimeoutMs);
      const scheduler = o.mode === 'async' ? new SimScheduler((id) => clock.profile(id), o.roundTimeoutMs) : null;
      const control = await connectAggregator({ url, fleet: o.fleet });
      clients.push(control);
      // Profiles with availability < 1: a device can be chosen only while its timeline says online.
      const timelines = new Map([...profiles].filter(([, p]) => (p.availability ?? 1) < 1).map(([id, p]) => [id, new AvailabilityTimeline(p, o.seed, id)]));
      const simNow = (): number => scheduler?.settledNow ?? clock.now;
      // Sync rounds close by the simulated deadline (SimClock cuts stragglers), not by real time,
      // which a slow training queue would otherwise run out; the real one is only a backstop.
      const failed = new Set<string>();
      const coordinator = createCoordinator(scheduler ? o : { ...o, roundTimeoutMs: Math.max(o.roundTimeoutMs, REAL_DEADLINE_BACKSTOP_MS) }, {
        client: control, evaluate: evaluator,
        ...(scheduler ? { now: simNow } : { lost: (id: string, round: number) => clock.isLate(id, round) || failed.has(id) }),
        ...(timelines.size > 0 && { criterion: (d: DeviceRecord) => timelines.get(d.deviceId)?.isOnline(simNow()) ?? true }),
      });
      coordinator.on('starved', () => (scheduler ? scheduler.advance(o.roundTimeoutMs) : clock.waited(o.roundTimeoutMs)));
      this.coordinator = coordinator;
      coordinator.on('roundStarted', (m) => this.emit('roundStarted', m));
      coordinator.on('resumed', (r) => this.emit('resumed', r));
      coordinator.on('updateAccepted', (r) => this.emit('updateAccepted', r));
      coordinator.on('updateRejected', (r) => this.emit('updateRejected', r));
      coordinator.on('updateAccepted', (u) => clock.accepted(u.deviceId, u.bytes));
      // Sync rounds trained in parallel: updates go out in participant order (reproducible sums).
      const ordered = pool && !scheduler ? new OrderedRelease() : null;
      // What each participant of the open sync round downloads: the global (or its delta) and the round message.
      let roundDownBytes = 0;
      if (!scheduler) {
        coordinator.on('roundStarted', (m) => {
          failed.clear();
          roundDownBytes = coordinator.downloadBytes + encodeMessage(m).byteLength;
        });
      }
      if (ordered) coordinator.on('roundStarted', (m) => ordered.roundStarted(m.participants));
      if (scheduler) {
        coordinator.on('roundStarted', (m) => scheduler.dispatched(m.participants, coordinator.downloadBytes));
        coordinator.on('idle', () => scheduler.idle());
        coordinator.on('updateAccepted', (u) => scheduler.settled(u.deviceId, 'update'));
        coordinator.on('updateRejected', (u) => scheduler.settled(u.deviceId, 'update'));
        coordinator.on('deviceStatus', (d) => d.state !== 'training' && scheduler.settled(d.deviceId, d.state));
      }
      let closedAt = 0;
      coordinator.on('roundClosed', (r) => {
        const simulated = scheduler
          ? { simMs: Math.round((scheduler.now - closedAt) * 10) / 10, dropped: scheduler.takeDropped(), simLate: 0 }
          : clock.closeRound(r);
        closedAt = scheduler?.now ?? 0;
        const entry = { ...reportRound(r), ...simulated };
        rounds.push(entry);
        this.emit('roundClosed', r, entry);
      });
      const trained = (id: string, ms: number, examples: number, epochs: number): void =>
        clock.trained(id, o.msPerExample === undefined ? ms : o.msPerExample * examples * epochs);

      // Connect in batches: one at a time is slow at 1,000 devices, all at once floods the broker.
      const indices = Array.from({ length: o.devices }, (_, i) => i);
      const attack = o.attack === undefined ? null : parseAttack(o.attack);
      const attackers = attack ? chooseAttackers(ids, attack.fraction, o.seed) : new Set<string>();
      const poisoned = attack ? attackTrainer(trainer, attack, o.seed) : trainer;
      agents.push(...(await inBatches(indices, async (i) => {
        const id = deviceId(i, o.devices);
        const client = await connectDevice({ url, deviceId: id, fleet: o.fleet });
        clients.push(client);
        const profile = clock.profile(id);
        const agent = new DeviceAgent(client, { deviceId: id, fleet: o.fleet, data: subset(train, shards[i]!), follow: o.follow }, {
          trainer: timedTrainer(attackers.has(id) ? poisoned : trainer, (ms, job) => trained(id, ms, job.data.count, job.options.epochs)),
          dropout: (round) => dropsOut(profile, o.seed, round.round, id),
          gate: scheduler ? (work: FinishedWork) => scheduler.finished(id, work, clock.trainedMs(id)) : async (work: FinishedWork) => {
            if (work.outcome === 'update' && clock.late(id, work.round.round, roundDownBytes, work.bytes)) return 'late';
            if (ordered) await (work.outcome === 'update' ? ordered.turn(id) : ordered.finished(id));
          },
        });
        if (ordered) {
          agent.on('updatePublished', () => ordered.finished(id));
          agent.on('roundSkipped', () => ordered.finished(id));
        }
        agent.on('warning', (error) => {
          scheduler?.forget(id);
          failed.add(id);
          ordered?.finished(id);
          // Training still running when the run ends fails as the pool closes: that is the shutdown, not news.
          if (!closing) this.emit('deviceWarning', { deviceId: id, error });
        });
        agent.on('roundSkipped', ({ round, reason }) => reason === 'dropped-out' && clock.droppedOut(round));
        await agent.start();
        return agent;
      })));
      const connected = clients.filter((c) => c.connected).length - 1;
      stage('devices', `${connected} devices connected`);

      await coordinator.run();
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      const profileCounts: Record<string, number> = {};
      for (const p of profiles.values()) profileCounts[p.name] = (profileCounts[p.name] ?? 0) + 1;
      const fleet = {
        devices: o.devices, connected, attackers: attackers.size, peakRssMb: Math.round(peakRss / 2 ** 20),
        ...(profiles.size > 0 && { profiles: profileCounts }),
      };
      return buildReport(o, backend, rounds, performance.now() - started, { fleet, phases });
    } finally {
      closing = true;
      clearInterval(sampler);
      // In batches too: a thousand goodbyes at once overflow Aedes's recursive dispatch.
      await inBatches(agents, (a) => a.stop());
      await inBatches(clients, (c) => c.endAsync().catch(() => undefined));
      trainer.dispose();
      evaluator?.dispose();
      await broker?.close();
    }
  }
}

/** Runs a simulation to the end; the function form of `new Simulation(options).run()`. */
export function simulate(options: Partial<SimulationOptions> = {}): Promise<RunReport> {
  return new Simulation(options).run();
}
