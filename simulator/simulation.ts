import type { MqttClient } from 'mqtt';
import { TypedEmitter } from '../protocol/index.js';
import { startBroker, type BrokerHandle } from '../broker/index.js';
import { loadMnist, parsePartition, partition, subset } from '../datasets/index.js';
import { initBackend } from '../learning/index.js';
import { Coordinator, connectAggregator, createEvaluator, type CoordinatorEvents, type RoundReport } from '../aggregator/index.js';
import { DeviceAgent, LocalTrainer, connectDevice } from '../device-agent/index.js';
import { parseSimulationOptions, type SimulationOptions } from './options.js';
import { buildReport, reportRound, type ReportRound, type RunReport } from './report.js';

export type SimulationEvents = {
  /** Set-up progress, in order: backend, data, broker, devices. */
  setup: [info: { stage: 'backend' | 'data' | 'broker' | 'devices'; detail: string }];
  roundStarted: CoordinatorEvents['roundStarted'];
  roundClosed: [report: RoundReport, entry: ReportRound];
  updateAccepted: CoordinatorEvents['updateAccepted'];
  updateRejected: CoordinatorEvents['updateRejected'];
  /** A device's non-fatal problem (bad message, failed training). */
  deviceWarning: [info: { deviceId: string; error: Error }];
};

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
    const backend = await initBackend(o.backend);
    this.emit('setup', { stage: 'backend', detail: backend });

    const { train, test } = await loadMnist();
    const shards = partition(train.y, o.devices, parsePartition(o.partition), o.seed);
    this.emit('setup', { stage: 'data', detail: `MNIST ${train.count} train / ${test.count} test, ${o.partition} over ${o.devices} devices` });

    let broker: BrokerHandle | null = null;
    const clients: MqttClient[] = [];
    const agents: DeviceAgent[] = [];
    const trainer = new LocalTrainer();
    const evaluator = await createEvaluator(o.model, test);
    try {
      let url = o.brokerUrl;
      if (url === undefined) {
        broker = await startBroker({ host: '127.0.0.1', port: 0 });
        url = broker.url;
      }
      this.emit('setup', { stage: 'broker', detail: url });

      const control = await connectAggregator({ url, fleet: o.fleet });
      clients.push(control);
      const coordinator = new Coordinator(o, { client: control, evaluate: evaluator });
      this.coordinator = coordinator;
      coordinator.on('roundStarted', (m) => this.emit('roundStarted', m));
      coordinator.on('updateAccepted', (r) => this.emit('updateAccepted', r));
      coordinator.on('updateRejected', (r) => this.emit('updateRejected', r));
      const rounds: ReportRound[] = [];
      coordinator.on('roundClosed', (r) => {
        const entry = reportRound(r);
        rounds.push(entry);
        this.emit('roundClosed', r, entry);
      });

      for (let i = 0; i < o.devices; i++) {
        const id = deviceId(i, o.devices);
        const client = await connectDevice({ url, deviceId: id, fleet: o.fleet });
        clients.push(client);
        const agent = new DeviceAgent(client, { deviceId: id, fleet: o.fleet, data: subset(train, shards[i]!) }, { trainer });
        agent.on('warning', (error) => this.emit('deviceWarning', { deviceId: id, error }));
        await agent.start();
        agents.push(agent);
      }
      this.emit('setup', { stage: 'devices', detail: `${o.devices} devices connected` });

      await coordinator.run();
      return buildReport(o, backend, rounds, performance.now() - started);
    } finally {
      await Promise.all(agents.map((a) => a.stop()));
      await Promise.all(clients.map((c) => c.endAsync().catch(() => undefined)));
      trainer.dispose();
      evaluator.dispose();
      await broker?.close();
    }
  }
}

/** Runs a simulation to the end; the function form of `new Simulation(options).run()`. */
export function simulate(options: Partial<SimulationOptions> = {}): Promise<RunReport> {
  return new Simulation(options).run();
}
