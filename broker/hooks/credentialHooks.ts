import type { Client } from 'aedes';
import { Authenticator, type Credential, type Credentials } from '../credentials.js';
import { LoginRefusedError, LoginRefuseReason } from '../errors.js';
import type { LoginLimits } from '../options.js';
import { sourceOf } from '../connectionInfo.js';
import { publishAsRole, subscribeAsRole } from './rolePolicy.js';
import type { AuthenticateHook, AuthorizePublishHook, AuthorizeSubscribeHook, BrokerHooks } from './types.js';

export { reachesOthersUpdates } from './rolePolicy.js';

/**
 * Per-client security from a credentials file (`fedmq broker --auth FILE`): every client
 * logs in with a username and password checked against the file's scrypt hashes, and its
 * role decides what it may do:
 * - `device`: its client id must be its username (so the default policy's "only `{id}`
 *   publishes to `update/{id}` and `status/{id}`" is bound to a password); it may publish
 *   exactly its own `update/{id}` and `status/{id}` (no level beneath), retain only its status,
 *   may not subscribe to `$` topics (`$SYS` lists every client id) nor to a filter that
 *   reaches another device's updates;
 * - `aggregator`: may publish the fleet's task, globals, rounds and metrics (and anything
 *   not owned by a device); reads everything;
 * - `monitor`: reads everything, publishes nothing.
 * A device's name is its client id alone: no other login may use it, connected or not, and no
 * login may take the client id of a client connected under another username (MQTT would hand
 * it over and close the first [MQTT-3.1.4-2]).
 * A refused login gets CONNACK 4 (bad username or password), 5 (not authorized, throttled) or
 * 3 (server busy); a refused publish closes the connection (MQTT 3.1.1 cannot say why); a
 * refused subscription gets SUBACK 0x80.
 */
export function credentialHooks(credentials: Credentials, limits: LoginLimits = {}): Pick<BrokerHooks, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'> {
  const authenticator = new Authenticator(credentials, limits);
  const logins = new WeakMap<Client, Credential>();

  /** Why `credential` may not connect as `client.id`, or undefined. */
  const clientIdRefusal = (client: Client, credential: Credential): string | undefined => {
    const id = client.id;
    if (credential.role === 'device') {
      return id === credential.name ? undefined : `device ${credential.name} must connect with client id ${credential.name}, not ${id}`;
    }
    if (credentials.get(id)?.role === 'device') return `client id ${id} is device ${id}'s; ${credential.role} ${credential.name} may not use it`;
    const current = (client as unknown as { broker: { clients: Record<string, Client | undefined> } }).broker.clients[id];
    const holder = current && current !== client ? logins.get(current) : undefined;
    if (holder && holder.name !== credential.name) return `client id ${id} is in use by ${holder.role} ${holder.name}`;
    return undefined;
  };

  const authenticate: AuthenticateHook = (client, username, password, done) => {
    const refuse = (error: LoginRefusedError): void => done(error as never, false);
    authenticator.check(username, password, sourceOf(client), client.id).then((credential) => {
      const refusal = clientIdRefusal(client, credential);
      if (refusal !== undefined) return refuse(new LoginRefusedError(LoginRefuseReason.ClientIdNotPermitted, 5, client.id, refusal));
      logins.set(client, credential);
      done(null, true);
    }, (error: unknown) => {
      refuse(error instanceof LoginRefusedError ? error : new LoginRefusedError(LoginRefuseReason.BadCredentials, 4, client.id, String(error)));
    });
  };

  const publish: AuthorizePublishHook = (client, packet, done) => publishAsRole(client ? logins.get(client) : undefined, client, packet, done);
  const subscribe: AuthorizeSubscribeHook = (client, subscription, done) => subscribeAsRole(logins.get(client), client, subscription, done);

  return { authenticate, authorizePublish: publish, authorizeSubscribe: subscribe };
}
