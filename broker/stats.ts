import type { Aedes } from 'aedes';
import { ConnectionRefusedError, LoginRefusedError, PublishRejectedError, SubscribeRejectedError } from './errors.js';
import type { AuthenticateHook, AuthorizeForwardHook, AuthorizePublishHook, AuthorizeSubscribeHook } from './hooks/index.js';

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
  /** Connections the broker cut or turned away: over `maxConnections`, stalled, too large, malformed. */
  connectionsRefused: number;
  /** The same, by `ConnectionRefuseReason`. */
  connectionsRefusedByReason: Record<string, number>;
  /** CONNECTs refused with a CONNACK error code. */
  loginsRefused: number;
  /** The same, by `LoginRefuseReason` (`other` for errors of a custom `authenticate`). */
  loginsRefusedByReason: Record<string, number>;
  /** Subscriptions refused: with SUBACK 0x80, or by closing the connection for an invalid filter. */
  subscriptionsRefused: number;
  /** The same, by `SubscribeRejectReason` (`other` for a custom policy's refusals). */
  subscriptionsRefusedByReason: Record<string, number>;
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
  private readonly connectionsRefused = new Tally();
  private readonly loginsRefused = new Tally();
  private readonly subscriptionsRefused = new Tally();

  constructor(private readonly aedes: Aedes) {
    aedes.on('client', () => {
      this.connections += 1;
    });
  }

  /** Counts a connection the broker cut (a bound function, to hand to the packet guard). */
  readonly countRefusedConnection = (error: ConnectionRefusedError): void => {
    this.connectionsRefused.add(error.reason);
  };

  countLogins(hook: AuthenticateHook): AuthenticateHook {
    return (client, username, password, done) => {
      hook(client, username, password, (error, ok) => {
        if (error || !ok) this.loginsRefused.add(error instanceof LoginRefusedError ? error.reason : 'other');
        done(error, ok);
      });
    };
  }

  /**
   * Counts refused subscriptions. A {@link SubscribeRejectedError} with `suback` becomes a
   * negated subscription here (SUBACK 0x80), so policies can say why they refused.
   */
  countSubscriptions(hook: AuthorizeSubscribeHook): AuthorizeSubscribeHook {
    return (client, subscription, done) => {
      hook(client, subscription, (error, granted) => {
        if (error) {
          this.subscriptionsRefused.add(error instanceof SubscribeRejectedError ? error.reason : 'other');
          if (error instanceof SubscribeRejectedError && error.suback) return done(null, null);
        } else if (!granted) {
          this.subscriptionsRefused.add('other');
        }
        done(error, granted);
      });
    };
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
      connectionsRefused: this.connectionsRefused.total,
      connectionsRefusedByReason: this.connectionsRefused.byReason(),
      loginsRefused: this.loginsRefused.total,
      loginsRefusedByReason: this.loginsRefused.byReason(),
      subscriptionsRefused: this.subscriptionsRefused.total,
      subscriptionsRefusedByReason: this.subscriptionsRefused.byReason(),
      uptimeMs: Math.round(performance.now() - this.startedAt),
    };
  }
}

/** A count by reason. */
class Tally {
  total = 0;
  private readonly counts: Record<string, number> = {};

  add(reason: string): void {
    this.total += 1;
    this.counts[reason] = (this.counts[reason] ?? 0) + 1;
  }

  byReason(): Record<string, number> {
    return { ...this.counts };
  }
}
