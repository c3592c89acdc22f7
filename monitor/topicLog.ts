import { familyOf } from './state.js';
import type { TopicFamily } from './traffic.js';

/** One topic as the topic explorer lists it. */
export interface TopicEntry {
  topic: string;
  family: TopicFamily;
  messages: number;
  bytes: number;
  lastBytes: number;
  lastAt: number;
  /** Retain flag of the last message: true when it came from the broker's store on subscribe. */
  retained: boolean;
}

/** Topics kept; a flood of distinct topics past this evicts the least recently active. */
export const MAX_TOPICS = 10_000;

/** Every topic seen, with counts and its last payload (for the topic explorer). */
export class TopicLog {
  private readonly topics = new Map<string, TopicEntry & { payload: Uint8Array }>();

  constructor(
    private readonly fleetPrefix: string,
    private readonly maxTopics = MAX_TOPICS,
  ) {}

  record(topic: string, payload: Uint8Array, retained: boolean, now: number): void {
    let entry = this.topics.get(topic);
    if (!entry) {
      if (this.topics.size >= this.maxTopics) this.evict();
      entry = { topic, family: familyOf(topic, this.fleetPrefix), messages: 0, bytes: 0, lastBytes: 0, lastAt: now, retained, payload };
      this.topics.set(topic, entry);
    }
    entry.messages += 1;
    entry.bytes += payload.byteLength;
    entry.lastBytes = payload.byteLength;
    entry.lastAt = now;
    entry.retained = retained;
    entry.payload = payload;
  }

  /** Topics sorted by name, without payloads. */
  list(): TopicEntry[] {
    return [...this.topics.values()]
      .map(({ payload: _p, ...entry }) => entry)
      .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
  }

  lastPayload(topic: string): Uint8Array | undefined {
    return this.topics.get(topic)?.payload;
  }

  private evict(): void {
    let oldest: string | undefined;
    let at = Infinity;
    for (const [topic, e] of this.topics) {
      if (e.lastAt < at) {
        at = e.lastAt;
        oldest = topic;
      }
    }
    if (oldest !== undefined) this.topics.delete(oldest);
  }
}
