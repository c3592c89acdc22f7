import type { Client, ConnectPacket } from 'aedes';
import { LoginRefusedError, LoginRefuseReason } from '../errors.js';
import type { AuthenticateHook } from './types.js';

/**
 * Why `filter` is not a valid MQTT topic filter, or undefined: `+` must fill a whole level
 * [MQTT-4.7.1-3], `#` must fill the last level [MQTT-4.7.1-2]. Aedes checks this itself but
 * lets `a+/b`, `+a` and `a#` through; the packet guard closes the connection of a SUBSCRIBE
 * or UNSUBSCRIBE holding one [MQTT-4.8.0-1].
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
