/** Topic families the monitor counts traffic for: the fedmq topic kinds, `$SYS` and the rest. */
export const TOPIC_FAMILIES = ['task', 'global', 'global-delta', 'round', 'update', 'status', 'metrics', '$SYS', 'other'] as const;
export type TopicFamily = (typeof TOPIC_FAMILIES)[number];

/** Traffic of one family: totals since the monitor attached and rates over the last window. */
export interface FamilyTraffic {
  messages: number;
  bytes: number;
  messagesPerSec: number;
  bytesPerSec: number;
}

/** Seconds the rates average over: long enough to smooth a round's burst of updates. */
export const DEFAULT_RATE_WINDOW_S = 10;

interface Bucket {
  second: number;
  messages: number;
  bytes: number;
}

/**
 * Message and byte counts per family with rates over a sliding window of one-second
 * buckets (a ring per family), so memory stays constant however long the monitor runs.
 */
export class TrafficMeter {
  private readonly totals = new Map<TopicFamily, { messages: number; bytes: number }>();
  private readonly rings = new Map<TopicFamily, Bucket[]>();
  private firstSecond: number | undefined;

  constructor(private readonly windowS = DEFAULT_RATE_WINDOW_S) {}

  record(family: TopicFamily, bytes: number, now: number): void {
    const second = Math.floor(now / 1000);
    this.firstSecond ??= second;
    const total = this.totals.get(family) ?? { messages: 0, bytes: 0 };
    total.messages += 1;
    total.bytes += bytes;
    this.totals.set(family, total);
    let ring = this.rings.get(family);
    if (!ring) {
      ring = Array.from({ length: this.windowS }, () => ({ second: -1, messages: 0, bytes: 0 }));
      this.rings.set(family, ring);
    }
    const bucket = ring[second % this.windowS]!;
    if (bucket.second !== second) {
      bucket.second = second;
      bucket.messages = 0;
      bucket.bytes = 0;
    }
    bucket.messages += 1;
    bucket.bytes += bytes;
  }

  /** Every family seen so far, plus `total`; rates count the window ending at `now`. */
  snapshot(now: number): Record<string, FamilyTraffic> {
    const second = Math.floor(now / 1000);
    // Right after attaching, divide by the seconds actually observed, not the whole window.
    const span = this.firstSecond === undefined ? 1 : Math.max(1, Math.min(this.windowS, second - this.firstSecond + 1));
    const out: Record<string, FamilyTraffic> = {};
    const sum: FamilyTraffic = { messages: 0, bytes: 0, messagesPerSec: 0, bytesPerSec: 0 };
    for (const family of TOPIC_FAMILIES) {
      const total = this.totals.get(family);
      if (!total) continue;
      let messages = 0;
      let bytes = 0;
      for (const b of this.rings.get(family) ?? []) {
        if (b.second > second - span && b.second <= second) {
          messages += b.messages;
          bytes += b.bytes;
        }
      }
      const row = { messages: total.messages, bytes: total.bytes, messagesPerSec: messages / span, bytesPerSec: bytes / span };
      out[family] = row;
      sum.messages += row.messages;
      sum.bytes += row.bytes;
      sum.messagesPerSec += row.messagesPerSec;
      sum.bytesPerSec += row.bytesPerSec;
    }
    out.total = sum;
    return out;
  }
}
