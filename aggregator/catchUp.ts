import type { SyncMessage } from '../protocol/index.js';
import type { CatchUp, GlobalBroadcaster } from './broadcast.js';

/** A catch-up sent: to whom, for which round, a chain of steps or the full copy, its bytes. */
export interface CatchUpSent {
  round: number;
  deviceId: string;
  kind: CatchUp['kind'];
  bytes: number;
  /** The version the device said it held (-1: none). */
  have: number;
}

/**
 * Answers devices' `sync` requests (a device that missed versions, or holds none) from the
 * broadcaster's kept steps, and counts what it sends. Everything on `update/{id}` is hostile:
 * a device gets at most one answer per global version, and one more only to ask for the full
 * copy (`have: -1`, after a chain it could not apply), so a device can make the aggregator
 * send no more than a fleet member fetching the retained global would.
 */
export class CatchUpDesk {
  /** Per device: the version last answered, and whether the full-copy retry was used on it. */
  private readonly answered = new Map<string, { version: number; retried: boolean }>();
  /** Bytes sent per device since `take()`. */
  private sent = new Map<string, number>();

  constructor(private readonly broadcaster: GlobalBroadcaster) {}

  /** The catch-up to publish on `to/{deviceId}`, or null when the request gets none. */
  answer(deviceId: string, sync: SyncMessage): CatchUpSent & { message: Uint8Array } | null {
    const version = this.broadcaster.currentVersion;
    const before = this.answered.get(deviceId);
    if (before?.version === version && (before.retried || sync.have !== -1)) return null;
    const reply = this.broadcaster.catchUp(sync.have);
    if (!reply) return null;
    this.answered.set(deviceId, { version, retried: before?.version === version });
    this.sent.set(deviceId, (this.sent.get(deviceId) ?? 0) + reply.message.byteLength);
    return { round: sync.round, deviceId, kind: reply.kind, bytes: reply.message.byteLength, have: sync.have, message: reply.message };
  }

  /** Bytes sent to each device since the last call, then starts counting afresh. */
  take(): Map<string, number> {
    const sent = this.sent;
    this.sent = new Map();
    return sent;
  }
}
