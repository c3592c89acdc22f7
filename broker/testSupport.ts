/** Helpers for the broker's own tests: a real broker on a free port, real mqtt.js clients. */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { startBroker, type BrokerHandle } from './broker.js';
import type { BrokerOptions } from './options.js';

export interface Received {
  topic: string;
  payload: Buffer;
  retain: boolean;
}

/** Everything a test opened, closed again by {@link Fixture.cleanup}. */
export class Fixture {
  private readonly brokers: BrokerHandle[] = [];
  private readonly clients: MqttClient[] = [];

  async broker(options: BrokerOptions = {}): Promise<BrokerHandle> {
    const broker = await startBroker({ host: '127.0.0.1', port: 0, ...options });
    this.brokers.push(broker);
    return broker;
  }

  /** A connected client that never reconnects, so a closed connection stays closed. */
  async client(url: string, options: IClientOptions = {}): Promise<MqttClient> {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5_000, ...options });
    // Tests provoke broker-side disconnects; mqtt.js would otherwise report them as errors.
    client.on('error', () => undefined);
    this.clients.push(client);
    return client;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((client) => client.endAsync(true)));
    await Promise.all(this.brokers.splice(0).map((broker) => broker.close()));
  }
}

/** Records every message `client` receives, in order. */
export function inbox(client: MqttClient): Received[] {
  const messages: Received[] = [];
  client.on('message', (topic, payload, packet) => messages.push({ topic, payload, retain: packet.retain }));
  return messages;
}

/** The next message on `topic` (exact match), or a rejection after `timeoutMs`. */
export function nextMessage(client: MqttClient, topic: string, timeoutMs = 3_000): Promise<Received> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      reject(new Error(`no message on ${topic} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (received: string, payload: Buffer, packet: { retain: boolean }): void => {
      if (received !== topic) return;
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve({ topic: received, payload, retain: packet.retain });
    };
    client.on('message', onMessage);
  });
}

/** Resolves when the broker has closed `client`'s connection. */
export function closedByBroker(client: MqttClient, timeoutMs = 3_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!client.connected) {
      resolve();
      return;
    }
    const timer = setTimeout(() => reject(new Error(`connection not closed within ${timeoutMs} ms`)), timeoutMs);
    client.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
