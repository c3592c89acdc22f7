/** Helpers for the broker's own tests: a real broker on a free port, real mqtt.js clients. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { startBroker, type BrokerHandle } from './broker.js';
import { addClient, authorityFiles, clientFiles, initAuthority } from './certs/index.js';
import type { BrokerOptions } from './options.js';
import { hashPassword, parseCredentials, type Credentials, type Role } from './credentials.js';

export interface Received {
  topic: string;
  payload: Buffer;
  retain: boolean;
}

/** Everything a test opened, closed again by {@link Fixture.cleanup}. */
export class Fixture {
  private readonly brokers: BrokerHandle[] = [];
  private readonly clients: MqttClient[] = [];
  private readonly raws: RawClient[] = [];

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

  /** A TCP connection for hand-made packets (see {@link raw}). */
  async raw(port: number, localAddress?: string): Promise<RawClient> {
    const client = await RawClient.open(port, localAddress);
    this.raws.push(client);
    return client;
  }

  async cleanup(): Promise<void> {
    for (const client of this.raws.splice(0)) client.destroy();
    await Promise.all(this.clients.splice(0).map((client) => client.endAsync(true)));
    await Promise.all(this.brokers.splice(0).map((broker) => broker.close()));
  }
}

/** How a connection attempt ended: connected (the client is open), or refused with the error mqtt.js gave, if any. */
export type ConnectOutcome = { connected: true; client: MqttClient } | { connected: false; error: (Error & { code?: unknown }) | undefined };

/**
 * Tries once to connect (no reconnects) and tells how it ended: `connect`, or the first `error`
 * or `close`, whichever comes first. A refused client is ended; a connected one is the caller's.
 */
export function connectOutcome(url: string, options: IClientOptions = {}): Promise<ConnectOutcome> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10_000, ...options });
    let error: Error | undefined;
    client.once('connect', () => {
      client.removeAllListeners('close');
      client.on('error', () => undefined);
      resolve({ connected: true, client });
    });
    client.on('error', (e) => {
      error ??= e;
      client.end(true);
    });
    client.once('close', () => {
      client.end(true);
      resolve({ connected: false, error });
    });
  });
}

/** A fleet's certificates made by `fedmq certs`' code in a temporary folder: the broker's, and clients' on demand. */
export class TestAuthority {
  private constructor(readonly dir: string, readonly ca: string, readonly broker: { cert: string; key: string }) {}

  static async create(): Promise<TestAuthority> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fedmq-ca-'));
    await initAuthority(dir, []);
    const files = authorityFiles(dir);
    return new TestAuthority(dir, await readFile(files.caCert, 'utf8'), { cert: await readFile(files.brokerCert, 'utf8'), key: await readFile(files.brokerKey, 'utf8') });
  }

  /** The certificate and key of `name` in `role`, issued on first use. */
  async client(role: Role, name: string): Promise<{ cert: string; key: string }> {
    const files = clientFiles(this.dir, { role, name });
    const read = async (): Promise<{ cert: string; key: string }> => ({ cert: await readFile(files.cert, 'utf8'), key: await readFile(files.key, 'utf8') });
    try {
      return await read();
    } catch {
      await addClient(this.dir, { role, name });
      return read();
    }
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
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

/** An MQTT Remaining Length [MQTT-2.2.3]. */
function remainingLength(length: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    bytes.push(byte);
  } while (length > 0);
  return bytes;
}

/** A UTF-8 string or raw bytes with its 2-byte length. */
function mqttString(value: string | Uint8Array): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function packet(firstByte: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([firstByte, ...remainingLength(body.length)]), body]);
}

/** Hand-made MQTT 3.1.1 packets, including ones mqtt.js refuses to send. */
export const raw = {
  connect(options: { clientId?: string; clean?: boolean; keepalive?: number; username?: string; password?: string } = {}): Buffer {
    const flags = (options.clean === false ? 0 : 0x02) | (options.username !== undefined ? 0x80 : 0) | (options.password !== undefined ? 0x40 : 0);
    const keepalive = Buffer.alloc(2);
    keepalive.writeUInt16BE(options.keepalive ?? 0);
    return packet(0x10, Buffer.concat([
      mqttString('MQTT'), Buffer.from([4, flags]), keepalive, mqttString(options.clientId ?? 'raw'),
      ...(options.username !== undefined ? [mqttString(options.username)] : []),
      ...(options.password !== undefined ? [mqttString(options.password)] : []),
    ]));
  },
  /** A QoS 0 PUBLISH whose topic is `topic`'s bytes as given. */
  publish(topic: string | Uint8Array, payload: string | Uint8Array = 'x'): Buffer {
    return packet(0x30, Buffer.concat([mqttString(topic), Buffer.from(payload)]));
  },
  /** The fixed header and first `bytes` of a PUBLISH announcing a `payloadBytes` payload: a packet that never completes. */
  partialPublish(payloadBytes: number, bytes: number): Buffer {
    const topic = mqttString('big');
    const header = Buffer.from([0x30, ...remainingLength(topic.length + payloadBytes)]);
    return Buffer.concat([header, topic, Buffer.alloc(bytes)]);
  },
  subscribe(filters: (string | Uint8Array)[], messageId = 1): Buffer {
    const id = Buffer.alloc(2);
    id.writeUInt16BE(messageId);
    return packet(0x82, Buffer.concat([id, ...filters.flatMap((f) => [mqttString(f), Buffer.from([0])])]));
  },
};

/** What a {@link RawClient} read: CONNACK return codes and SUBACK granted codes. */
export interface RawReplies {
  connack: number[];
  suback: number[][];
}

/** A TCP connection to the broker speaking hand-made packets; reads CONNACK and SUBACK. */
export class RawClient {
  readonly replies: RawReplies = { connack: [], suback: [] };
  /** Resolves when the connection closed (whoever closed it). */
  readonly closed: Promise<void>;
  private readonly socket: Socket;
  private buffered = Buffer.alloc(0);
  private readonly waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async open(port: number, localAddress?: string): Promise<RawClient> {
    const socket = connect({ port, host: '127.0.0.1', ...(localAddress && { localAddress }) });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  get isClosed(): boolean {
    return this.socket.destroyed || this.socket.closed;
  }

  /** Resolves once `ready()` holds, checking after each packet read (rejects after `timeoutMs`). */
  async until(ready: (replies: RawReplies) => boolean, timeoutMs = 3_000): Promise<RawReplies> {
    const deadline = performance.now() + timeoutMs;
    while (!ready(this.replies)) {
      if (performance.now() > deadline) throw new Error(`no such reply within ${timeoutMs} ms: ${JSON.stringify(this.replies)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.replies;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private read(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    for (;;) {
      if (this.buffered.length < 2) break;
      let length = 0;
      let multiplier = 1;
      let at = 1;
      let byte: number;
      do {
        byte = this.buffered[at] ?? 0;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        at += 1;
      } while ((byte & 0x80) !== 0 && at < this.buffered.length);
      if (this.buffered.length < at + length) break;
      const type = (this.buffered[0] ?? 0) >> 4;
      const body = this.buffered.subarray(at, at + length);
      if (type === 2) this.replies.connack.push(body[1] ?? -1);
      if (type === 9) this.replies.suback.push([...body.subarray(2)]);
      this.buffered = this.buffered.subarray(at + length);
    }
    for (const wake of this.waiters.splice(0)) wake();
  }
}

/** The logins of the `--auth` tests, as `[role, name, password]`. */
export const TEST_LOGINS: readonly (readonly [Role, string, string])[] = [
  ['device', 'pi-01', 'pi-01-pw'],
  ['device', 'pi-02', 'pi-02-pw'],
  ['aggregator', 'hub', 'hub-pw'],
  ['monitor', 'grafana', 'mon-pw'],
];

/** A credentials file's contents for `logins`, hashed as `fedmq passwd` hashes them. */
export async function testCredentials(logins: readonly (readonly [Role, string, string])[] = TEST_LOGINS): Promise<Credentials> {
  const lines = await Promise.all(logins.map(async ([role, name, password]) => `${role} ${name} ${await hashPassword(password)}`));
  return parseCredentials(lines.join('\n'));
}
