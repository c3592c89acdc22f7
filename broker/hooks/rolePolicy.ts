import { filterReachesDeviceTopics, parseTopic } from '../../protocol/topics.js';
import type { Role } from '../credentials.js';
import { PublishRejectedError, PublishRejectReason, SubscribeRejectedError, SubscribeRejectReason } from '../errors.js';
import { authorizePublish } from './authorizePublish.js';
import type { AuthorizePublishHook, AuthorizeSubscribeHook } from './types.js';

/** A client known by a password (`--auth`) or by a certificate (mutual TLS). */
export interface Login {
  readonly role: Role;
  readonly name: string;
}

/**
 * Whether subscribing to `filter` could deliver another device's update (or anything under
 * it): `fedmq/v1/{fleet}/update/{id}[/...]` for an id other than `own`. Updates are derived
 * from a device's private data, so devices must not read each other's.
 */
export function reachesOthersUpdates(filter: string, own: string): boolean {
  return filterReachesDeviceTopics(filter, 'update', (id) => id !== own);
}

/** Whether subscribing to `filter` could deliver what the aggregator sends another device alone (`to/{id}`). */
export function reachesOthersMessages(filter: string, own: string): boolean {
  return filterReachesDeviceTopics(filter, 'to', (id) => id !== own);
}

/**
 * What a role may publish, after the default policy (no `$` topics, a device's topics only by
 * the client whose id is the device's): the aggregator anything; a device exactly its own
 * `update/{id}` and `status/{id}` (no level beneath), retaining only its status; a monitor
 * nothing. `login` undefined with `client` null is a last will left by a broker instance that is
 * gone: it may go to its own device's topics only.
 */
export function publishAsRole(login: Login | undefined, ...[client, packet, done]: Parameters<AuthorizePublishHook>): void {
  authorizePublish(client, packet, (error) => {
    if (error) return done(error);
    const role = login?.role;
    const publisher = client?.id ?? (packet as { clientId?: string }).clientId;
    if (role === 'aggregator') return done(null);
    const topic = parseTopic(packet.topic);
    const own = (role === 'device' || client === null) && topic !== null && (topic.kind === 'update' || topic.kind === 'status') && topic.deviceId === publisher;
    if (!own) {
      return done(new PublishRejectedError(PublishRejectReason.NotPermitted, packet.topic, publisher, `${role ?? 'client'} ${publisher ?? '(unknown)'} may not publish to ${packet.topic}`));
    }
    if (packet.retain && topic.kind !== 'status') {
      return done(new PublishRejectedError(PublishRejectReason.RetainNotPermitted, packet.topic, publisher, `device ${publisher ?? '(unknown)'} may retain only its status, not ${packet.topic}`));
    }
    done(null);
  });
}

/**
 * What a role may read: a device no `$` topic (`$SYS` lists every client id) and no filter
 * that reaches another device's updates or its `to/{id}`; the aggregator and a monitor everything. A refusal is
 * SUBACK 0x80 (see `StatsCounter.countSubscriptions`): the client stays connected and learns
 * which filter was refused.
 */
export function subscribeAsRole(login: Login | undefined, ...[client, subscription, done]: Parameters<AuthorizeSubscribeHook>): void {
  const filter = subscription.topic;
  const negate = (reason: SubscribeRejectReason, why: string): void =>
    done(new SubscribeRejectedError(reason, filter, client.id, why, { suback: true }), null);
  if (login?.role === 'device') {
    if (filter.startsWith('$')) return negate(SubscribeRejectReason.ReservedTopic, `device ${login.name} may not read $ topics: ${filter}`);
    if (reachesOthersUpdates(filter, login.name)) return negate(SubscribeRejectReason.OthersUpdates, `device ${login.name} may not read other devices' updates: ${filter}`);
    if (reachesOthersMessages(filter, login.name)) return negate(SubscribeRejectReason.OthersUpdates, `device ${login.name} may not read what the aggregator sends other devices: ${filter}`);
  }
  done(null, subscription);
}
