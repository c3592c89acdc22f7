import type { MqttClient } from 'mqtt';

/**
 * The aggregator's publishes, one after another (QoS 1), so that a republish after a reconnect
 * never overtakes a newer message; it remembers the last retained payload of each topic it is
 * told to keep, which is what a restarted broker is given again.
 */
export class Outbox {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly kept = new Map<string, Buffer>();

  /** `keep(topic)`: whether a retained publish on it is remembered for `republish` (a round is not: its owner says which rounds are open). */
  constructor(
    private readonly client: MqttClient,
    private readonly keep: (topic: string) => boolean,
  ) {}

  /** Publishes `payload` (retained unless told otherwise) after everything queued before it. */
  publish(topic: string, payload: Uint8Array, retain = true): Promise<void> {
    const buffer = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    return this.serially(async () => {
      if (retain && this.keep(topic)) this.kept.set(topic, buffer);
      await this.client.publishAsync(topic, buffer, { qos: 1, retain });
    });
  }

  /**
   * Publishes again, retained and in the queue, in `order`: for a topic, its remembered payload
   * (if any); for a list of payloads (the open rounds), each on `roundTopic`. Returns the topics
   * published; rejects when the client was ended.
   */
  republish(order: (string | Buffer[])[], roundTopic: string): Promise<string[]> {
    const done: string[] = [];
    return this.serially(async () => {
      for (const item of order) {
        const state: [string, Buffer][] = typeof item === 'string'
          ? (this.kept.has(item) ? [[item, this.kept.get(item)!]] : [])
          : item.map((payload): [string, Buffer] => [roundTopic, payload]);
        for (const [topic, payload] of state) {
          await this.client.publishAsync(topic, payload, { qos: 1, retain: true });
          done.push(topic);
        }
      }
    }).then(() => done);
  }

  /** Runs `job` after every publish queued before it. */
  private serially(job: () => Promise<void>): Promise<void> {
    const run = this.queue.then(job);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
