import mqtt, { type MqttClient } from 'mqtt';
import { DeviceAgent, connectDevice, type AgentDeps, type AgentEvents } from '../device-agent/index.js';
import { taskInitialWeights } from '../learning/index.js';
import { datasetExamples, type Dataset, type DeviceExamples } from '../datasets/index.js';
import {
  Rng,
  build,
  builtinTask,
  decodeMessage,
  encodeGlobal,
  encodeMessage,
  parseCodec,
  taskLayout,
  type GlobalMessage,
  type RoundMessage,
  type TaskMessage,
  type UpdateMessage,
} from '../protocol/index.js';
import { topics } from './helpers.js';

/** Test support for the agent tests (test/agent-*.test.ts): a hand-driven aggregator and a real agent. */

export const MLP_PARAMS = taskLayout(builtinTask('mlp')).paramCount;

export function mlpTask(over: Partial<TaskMessage> = {}): TaskMessage {
  return build.task({
    model: 'mlp', task: builtinTask('mlp'), paramCount: MLP_PARAMS, codec: 'f32', downlink: 'f32',
    defaults: { epochs: 1, batchSize: 20, lr: 0.05 }, ...over,
  });
}

/** The mlp's seed-0 initial weights as a retained f32 global of `version`. */
export function mlpGlobal(version = 0): GlobalMessage {
  initial ??= encodeGlobal(taskInitialWeights(builtinTask('mlp'), 0), parseCodec('f32'), new Rng(0));
  return build.global({ version, round: 0, codec: 'f32', weights: initial.bytes, sha256: initial.sha256 });
}

let initial: { bytes: Uint8Array; sha256: string } | undefined;

export function roundFor(deviceIds: string[], round: number, deadline: number, over: Partial<RoundMessage> = {}): RoundMessage {
  return build.round({
    round, globalVersion: 0, participants: deviceIds, deadline, issuedAt: deadline - 5_000, codec: 'f32', seed: round,
    epochs: 1, batchSize: 20, lr: 0.05, ...over,
  });
}

/**
 * A raw aggregator: an mqtt.js client that publishes the fleet's retained task, global and round
 * messages as the test says, and collects the updates devices send.
 */
export class RawAggregator {
  readonly updates: UpdateMessage[] = [];
  private readonly waiters: (() => void)[] = [];

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload) => {
      if (!topic.startsWith(topics.allUpdates.slice(0, -1))) return;
      this.updates.push(decodeMessage('update', payload));
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async connect(url: string): Promise<RawAggregator> {
    const client = await mqtt.connectAsync(url, { clientId: `raw-aggregator-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
    const aggregator = new RawAggregator(client);
    await client.subscribeAsync(topics.allUpdates, { qos: 1 });
    return aggregator;
  }

  async publish(kind: 'task' | 'global' | 'round', message: TaskMessage | GlobalMessage | RoundMessage | Uint8Array, retain = true): Promise<void> {
    const bytes = message instanceof Uint8Array ? message : encodeMessage(message);
    await this.client.publishAsync(topics[kind], Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { qos: 1, retain });
  }

  /** Publishes the task, the global and then the round, retained, as an aggregator starting a round does. */
  async startRound(round: RoundMessage, task = mlpTask()): Promise<void> {
    await this.publish('task', task);
    await this.publish('global', mlpGlobal());
    await this.publish('round', round);
  }

  /** Resolves with the first update for `round` from `deviceId`; rejects after `timeoutMs`. */
  async updateFor(deviceId: string, round: number, timeoutMs: number): Promise<UpdateMessage> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.updates.find((u) => u.deviceId === deviceId && u.round === round);
      if (found) return found;
      const left = until - Date.now();
      if (left <= 0) throw new Error(`no update for round ${round} from ${deviceId} within ${timeoutMs} ms (got rounds ${this.updates.map((u) => u.round).join(', ') || 'none'})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  end(): Promise<void> {
    return this.client.endAsync(true);
  }
}

/** A real agent on a real mqtt.js device connection, with every event it emitted recorded. */
export async function startAgent(
  url: string, deviceId: string, data: Dataset | DeviceExamples, deps: AgentDeps = {}, connect = (): Promise<MqttClient> => connectDevice({ url, deviceId, fleet: 'test' }),
): Promise<{ agent: DeviceAgent; client: MqttClient; events: Recorded }> {
  const client = await connect();
  const examples = 'train' in data ? data : datasetExamples(data, [28, 28, 1]);
  const agent = new DeviceAgent(client, { deviceId, fleet: 'test', data: examples }, deps);
  const events = record(agent);
  await agent.start();
  return { agent, client, events };
}

export interface Recorded {
  trainingStarted: RoundMessage[];
  roundSkipped: AgentEvents['roundSkipped'][0][];
  updatePublished: AgentEvents['updatePublished'][0][];
  updateResent: AgentEvents['updateResent'][0][];
  warning: Error[];
}

function record(agent: DeviceAgent): Recorded {
  const r: Recorded = { trainingStarted: [], roundSkipped: [], updatePublished: [], updateResent: [], warning: [] };
  agent.on('trainingStarted', (m) => r.trainingStarted.push(m));
  agent.on('roundSkipped', (s) => r.roundSkipped.push(s));
  agent.on('updatePublished', (u) => r.updatePublished.push(u));
  agent.on('updateResent', (u) => r.updateResent.push(u));
  agent.on('warning', (e) => r.warning.push(e));
  return r;
}

/** Polls `condition` every 10 ms; rejects with `what` after `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
