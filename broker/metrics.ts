import { Counter, Gauge, type Registry } from 'prom-client';
import type { BrokerHandle } from './broker.js';
import { ConnectionRefuseReason, LoginRefuseReason, PublishRejectReason, SubscribeRejectReason } from './errors.js';
import type { BrokerStats } from './stats.js';

/**
 * Registers the broker's Prometheus metrics on `registry` (pass a fresh `new Registry()` per
 * broker, not prom-client's global one). Values are read from `broker.stats()` at scrape time,
 * so the hot publish path does no extra work. Metric names follow the Prometheus naming
 * conventions: `_total` counters, base units (bytes, seconds).
 */
export function registerBrokerMetrics(broker: Pick<BrokerHandle, 'stats'>, registry: Registry): void {
  let last: BrokerStats = {
    clients: 0, connections: 0, messagesIn: 0, bytesIn: 0, messagesOut: 0, bytesOut: 0,
    publishesRejected: 0, publishesRejectedByReason: {}, connectionsRefused: 0, connectionsRefusedByReason: {},
    loginsRefused: 0, loginsRefusedByReason: {}, subscriptionsRefused: 0, subscriptionsRefusedByReason: {}, uptimeMs: 0,
  };
  let current = last;
  // Every metric's collect() calls this; counters advance by what changed since the last call.
  const refresh = (): void => {
    current = broker.stats();
    connections.inc(current.connections - last.connections);
    messagesIn.inc(current.messagesIn - last.messagesIn);
    bytesIn.inc(current.bytesIn - last.bytesIn);
    messagesOut.inc(current.messagesOut - last.messagesOut);
    bytesOut.inc(current.bytesOut - last.bytesOut);
    const byReason = (counter: Counter<'reason'>, now: Record<string, number>, before: Record<string, number>): void => {
      for (const [reason, n] of Object.entries(now)) {
        const delta = n - (before[reason] ?? 0);
        if (delta > 0) counter.inc({ reason }, delta);
      }
    };
    byReason(rejected, current.publishesRejectedByReason, last.publishesRejectedByReason);
    byReason(connectionsRefused, current.connectionsRefusedByReason, last.connectionsRefusedByReason);
    byReason(loginsRefused, current.loginsRefusedByReason, last.loginsRefusedByReason);
    byReason(subscriptionsRefused, current.subscriptionsRefusedByReason, last.subscriptionsRefusedByReason);
    last = current;
  };
  const registers = [registry];
  const connections = new Counter({ name: 'fedmq_broker_connections_total', help: 'Client connections accepted since the broker started', registers, collect: refresh });
  const messagesIn = new Counter({ name: 'fedmq_broker_messages_received_total', help: 'PUBLISH packets (and last wills) accepted from clients', registers, collect: refresh });
  const bytesIn = new Counter({ name: 'fedmq_broker_received_bytes_total', help: 'Payload bytes of the messages accepted from clients', registers, collect: refresh });
  const messagesOut = new Counter({ name: 'fedmq_broker_messages_sent_total', help: 'Messages delivered to subscribers, retained ones included', registers, collect: refresh });
  const bytesOut = new Counter({ name: 'fedmq_broker_sent_bytes_total', help: 'Payload bytes of the messages delivered to subscribers', registers, collect: refresh });
  const rejected = new Counter({
    name: 'fedmq_broker_publishes_rejected_total',
    help: 'Publishes and last wills refused by the publish policy or the payload limit, by reason',
    labelNames: ['reason'] as const,
    registers,
    collect: refresh,
  });
  const connectionsRefused = new Counter({
    name: 'fedmq_broker_connections_refused_total',
    help: 'Connections the broker cut or turned away (too many, stalled packet, too large, malformed), by reason',
    labelNames: ['reason'] as const, registers, collect: refresh,
  });
  const loginsRefused = new Counter({
    name: 'fedmq_broker_logins_refused_total',
    help: 'CONNECTs refused with a CONNACK error code, by reason',
    labelNames: ['reason'] as const, registers, collect: refresh,
  });
  const subscriptionsRefused = new Counter({
    name: 'fedmq_broker_subscriptions_refused_total',
    help: 'Subscriptions refused (SUBACK 0x80, or the connection closed for an invalid filter), by reason',
    labelNames: ['reason'] as const, registers, collect: refresh,
  });
  // Every known reason from the start, so rate() works from the first scrape.
  for (const reason of Object.values(PublishRejectReason)) rejected.inc({ reason }, 0);
  for (const reason of Object.values(ConnectionRefuseReason)) connectionsRefused.inc({ reason }, 0);
  for (const reason of Object.values(LoginRefuseReason)) loginsRefused.inc({ reason }, 0);
  for (const reason of Object.values(SubscribeRejectReason)) subscriptionsRefused.inc({ reason }, 0);
  new Gauge({
    name: 'fedmq_broker_clients', help: 'Clients connected now', registers,
    collect() {
      refresh();
      this.set(current.clients);
    },
  });
  new Gauge({
    name: 'fedmq_broker_uptime_seconds', help: 'Seconds since the broker started', registers,
    collect() {
      refresh();
      this.set(current.uptimeMs / 1000);
    },
  });
}
