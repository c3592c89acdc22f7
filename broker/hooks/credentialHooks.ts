import type { Client } from 'aedes';
import { filterReachesDeviceTopics } from '../../protocol/topics.js';
import { Authenticator, type Credential, type Credentials } from '../credentials.js';
import { PublishRejectedError, PublishRejectReason } from '../errors.js';
import { authorizePublish, deviceTopicOwner } from './authorizePublish.js';
import type { AuthenticateHook, AuthorizePublishHook, AuthorizeSubscribeHook, BrokerHooks } from './types.js';

/** CONNACK codes of MQTT 3.1.1 (Aedes's `AuthErrorCode`, a const enum it does not export at run time). */
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

function refuse(returnCode: number, message: string): Error & { returnCode: number } {
  return Object.assign(new Error(message), { returnCode });
}

/**
 * Whether subscribing to `filter` could deliver another device's update (or anything under
 * it): `fedmq/v1/{fleet}/update/{id}[/...]` for an id other than `own`. Updates are derived
 * from a device's private data, so devices must not read each other's.
 */
export function reachesOthersUpdates(filter: string, own: string): boolean {
  return filterReachesDeviceTopics(filter, 'update', (id) => id !== own);
}

/**
 * Per-client security from a credentials file (`fedmq broker --auth FILE`): every client
 * logs in with a username and password checked against the file's scrypt hashes, and its
 * role decides what it may do:
 * - `device`: its client id must be its username (so the default policy's "only `{id}`
 *   publishes to `update/{id}` and `status/{id}`" is bound to a password); it may publish
 *   nothing else, and may not subscribe to a filter that reaches another device's updates;
 * - `aggregator`: may publish the fleet's task, globals, rounds and metrics (and anything
 *   not owned by a device); reads everything;
 * - `monitor`: reads everything, publishes nothing.
 * A refused login gets CONNACK 4 (bad username or password) or 5 (not authorized); a
 * refused publish closes the connection (MQTT 3.1.1 cannot say why); a refused subscription
 * gets SUBACK 0x80.
 */
export function credentialHooks(credentials: Credentials): Pick<BrokerHooks, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'> {
  const authenticator = new Authenticator(credentials);
  const logins = new WeakMap<Client, Credential>();

  const authenticate: AuthenticateHook = (client, username, password, done) => {
    authenticator.check(username, password).then((credential) => {
      if (!credential) return done(refuse(BAD_USERNAME_OR_PASSWORD, `bad username or password for client ${client.id}`) as never, false);
      if (credential.role === 'device' && client.id !== credential.name) {
        return done(refuse(NOT_AUTHORIZED, `device ${credential.name} must connect with client id ${credential.name}, not ${client.id}`) as never, false);
      }
      logins.set(client, credential);
      done(null, true);
    }, (error: Error) => done(refuse(BAD_USERNAME_OR_PASSWORD, error.message) as never, false));
  };

  const publish: AuthorizePublishHook = (client, packet, done) => {
    authorizePublish(client, packet, (error) => {
      if (error) return done(error);
      const role = client ? logins.get(client)?.role : undefined;
      const publisher = client?.id ?? (packet as { clientId?: string }).clientId;
      // A last will left by a broker instance that is gone (no client): only a device's own topics, which the default policy checked.
      const allowed = role === 'aggregator' || ((role === 'device' || client === null) && deviceTopicOwner(packet.topic) === publisher);
      if (allowed) return done(null);
      done(new PublishRejectedError(PublishRejectReason.NotPermitted, packet.topic, publisher, `${role ?? 'client'} ${publisher ?? '(unknown)'} may not publish to ${packet.topic}`));
    });
  };

  const subscribe: AuthorizeSubscribeHook = (client, subscription, done) => {
    const login = logins.get(client);
    // Negated (SUBACK 0x80): the client stays connected and learns which filter was refused.
    if (login?.role === 'device' && reachesOthersUpdates(subscription.topic, login.name)) return done(null, null);
    done(null, subscription);
  };

  return { authenticate, authorizePublish: publish, authorizeSubscribe: subscribe };
}
