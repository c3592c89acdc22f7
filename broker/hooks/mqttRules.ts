import type { Client, ConnectPacket } from 'aedes';
import { LoginRefusedError, LoginRefuseReason, SubscribeRejectedError, SubscribeRejectReason } from '../errors.js';
import type { AuthenticateHook, AuthorizeSubscribeHook } from './types.js';

/**
 * Why `filter` is not a valid MQTT topic filter, or undefined: `+` must fill a whole level
 * [MQTT-4.7.1-3], `#` must fill the last level [MQTT-4.7.1-2]. Aedes checks this itself but
 * lets `a+/b`, `+a` and `a#` through.
 */
export function invalidFilter(filter: string): string | undefined {
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes('+') && level !== '+') return `'+' must fill a whole level [MQTT-4.7.1-3]: ${filter}`;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return `'#' must fill the last level [MQTT-4.7.1-2]: ${filter}`;
  }
  return undefined;
}

/**
 * Wraps a subscribe policy so that an invalid filter is refused before it runs, by closing the
 * connection: MQTT 3.1.1 has no SUBACK code for a malformed filter, and a protocol violation
 * closes the connection [MQTT-4.8.0-1], as Aedes does for the misplaced `#` it catches.
 */
export function validateSubscription(next: AuthorizeSubscribeHook): AuthorizeSubscribeHook {
  return (client, subscription, done) => {
    const why = invalidFilter(subscription.topic);
    if (why !== undefined) {
      done(new SubscribeRejectedError(SubscribeRejectReason.InvalidFilter, subscription.topic, client.id ?? undefined, why, { suback: false }), null);
      return;
    }
    next(client, subscription, done);
  };
}

type PreConnectHook = (client: Client, packet: ConnectPacket, done: (error: Error | null, ok: boolean) => void) => void;

/**
 * [MQTT-3.1.3-8]: a CONNECT with a zero-byte client id and CleanSession 0 gets CONNACK 2
 * (identifier rejected). Aedes would make up an id and keep a session nobody can resume.
 * `preConnect` sees the packet; the refusal goes through `authenticate`, whose errors Aedes
 * answers with their CONNACK code (its `preConnect` errors get no CONNACK).
 */
export function refuseEmptyClientId(): { preConnect: PreConnectHook; authenticate(next: AuthenticateHook): AuthenticateHook } {
  const refused = new WeakSet<Client>();
  return {
    preConnect(client, packet, done) {
      if (packet.clientId === '' && packet.clean === false) refused.add(client);
      done(null, true);
    },
    authenticate: (next) => (client, username, password, done) => {
      if (!refused.has(client)) {
        next(client, username, password, done);
        return;
      }
      const error = new LoginRefusedError(LoginRefuseReason.EmptyClientId, 2, undefined, 'an empty client id needs CleanSession 1 [MQTT-3.1.3-8]');
      done(error as never, false);
    },
  };
}
