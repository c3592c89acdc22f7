import type { Aedes } from 'aedes';
import { PublishRejectedError } from './errors.js';
import type { AuthorizeForwardHook, AuthorizePublishHook } from './hooks/index.js';

/** Counters since the broker started. Payload bytes only, not MQTT framing. */
export interface BrokerStats {
  /** Clients connected now. */
  clients: number;
  /** Client connections accepted since start (CONNECT passed authentication). */
  connections: number;
  /** PUBLISH packets accepted from clients, last wills included. */
  messagesIn: number;
  bytesIn: number;
  /** Messages delivered to subscribers, retained ones included. */
  messagesOut: number;
  bytesOut: number;
  /** Publishes (and wills) refused by the publish policy or the payload limit. */
  publishesRejected: number;
  /** The same, by `PublishRejectReason` (`other` for errors of a custom policy). */
  publishesRejectedByReason: Record<string, number>;
  uptimeMs: number;
}

function payloadBytes(payload: unknown): number {
  if (typeof payload === 'string') return Buffer.byteLength(payload);
  return (payload as Uint8Array | undefined)?.byteLength ?? 0;
}

/**
 * Counts traffic by wrapping the publish and forward hooks: Aedes runs the first for every
 * PUBLISH and will from a client (not for its own `$SYS` messages) before routing it, and
 * the second for every delivery. Its `publish` event would come too late: it fires after
 * subscribers may already have the message.
 */
export class StatsCounter {
  private readonly startedAt = performance.now();
  private messagesIn = 0;
  private bytesIn = 0;
  private messagesOut = 0;
  private bytesOut = 0;
  private publishesRejected = 0;
  private readonly rejectedByReason: Record<string, number> = {};
  private connections = 0;

  constructor(private readonly aedes: Aedes) {
    aedes.on('client', () => {
      this.connections += 1;
    });
  }

  countForwards(hook: AuthorizeForwardHook): AuthorizeForwardHook {
    return (client, packet) => {
      const forwarded = hook(client, packet);
      if (forwarded) {
        this.messagesOut += 1;
        this.bytesOut += payloadBytes(forwarded.payload);
      }
      return forwarded;
    };
  }

  countPublishes(hook: AuthorizePublishHook): AuthorizePublishHook {
    return (client, packet, done) => {
      hook(client, packet, (error) => {
        if (error) {
          this.publishesRejected += 1;
          const reason = error instanceof PublishRejectedError ? error.reason : 'other';
          this.rejectedByReason[reason] = (this.rejectedByReason[reason] ?? 0) + 1;
        } else {
          this.messagesIn += 1;
          this.bytesIn += payloadBytes(packet.payload);
        }
        done(error);
      });
    };
  }

  snapshot(): BrokerStats {
    return {
      clients: this.aedes.connectedClients,
      connections: this.connections,
      messagesIn: this.messagesIn,
      bytesIn: this.bytesIn,
      messagesOut: this.messagesOut,
      bytesOut: this.bytesOut,
      publishesRejected: this.publishesRejected,
      publishesRejectedByReason: { ...this.rejectedByReason },
      uptimeMs: Math.round(performance.now() - this.startedAt),
    };
  }
}
