import type { Client } from 'aedes';
import { clientIdRefusal, type CertificateIdentity } from '../certs/identity.js';
import { certificateOf, sourceOf } from '../connectionInfo.js';
import { LoginRefusedError, LoginRefuseReason } from '../errors.js';
import { publishAsRole, subscribeAsRole } from './rolePolicy.js';
import type { AuthenticateHook, AuthorizePublishHook, AuthorizeSubscribeHook, BrokerHooks } from './types.js';

export interface CertificatePolicyOptions {
  /**
   * What happens to a client without a client certificate (on a listener that does not require
   * one, or with certificates optional): `refuse` it (CONNACK 5), or hand it to the `next`
   * policy (passwords with `--auth`, or the default policy).
   */
  withoutCertificate: 'refuse' | 'next';
}

/**
 * Clients known by their TLS certificate (`fedmq broker --tls-ca`): a certificate the broker's CA
 * signed names its holder (CN) and role (OU) (`certs/identity.ts`), as a password login does with
 * `--auth`, and the same role rules apply (`rolePolicy.ts`):
 * - a device's client id must be its certificate's name, so `pi-01`'s certificate can neither
 *   connect as `pi-02` nor publish on `pi-02`'s topics;
 * - an aggregator's or monitor's client id is its name or `NAME/...` (several processes may share
 *   one certificate), which no device id can be;
 * - a presented certificate that names no client or that the CA did not sign is refused, not
 *   ignored: its holder meant to be someone.
 * Username and password of a certificate client are not read. Clients without a certificate go
 * where `withoutCertificate` says. Refusals are CONNACK 5 (not authorized).
 */
export function certificateHooks(next: BrokerHooks, options: CertificatePolicyOptions): BrokerHooks {
  const logins = new WeakMap<Client, CertificateIdentity>();
  const refuse = (client: Client, reason: LoginRefuseReason, why: string): LoginRefusedError =>
    new LoginRefusedError(reason, 5, client.id, `${why} (client ${client.id} from ${sourceOf(client) ?? 'unknown'})`);

  const authenticate: AuthenticateHook = (client, username, password, done) => {
    const certificate = certificateOf(client);
    if (certificate === undefined) {
      if (options.withoutCertificate === 'next') return next.authenticate(client, username, password, done);
      return done(refuse(client, LoginRefuseReason.NoCertificate, 'no client certificate signed by the broker\'s CA') as never, false);
    }
    if ('problem' in certificate) return done(refuse(client, LoginRefuseReason.BadCertificate, certificate.problem) as never, false);
    const refusal = clientIdRefusal(certificate.identity, client.id);
    if (refusal !== undefined) return done(refuse(client, LoginRefuseReason.ClientIdNotPermitted, refusal) as never, false);
    logins.set(client, certificate.identity);
    done(null, true);
  };

  const authorizePublish: AuthorizePublishHook = (client, packet, done) => {
    const login = client ? logins.get(client) : undefined;
    if (login === undefined) return next.authorizePublish(client, packet, done);
    publishAsRole(login, client, packet, done);
  };

  const authorizeSubscribe: AuthorizeSubscribeHook = (client, subscription, done) => {
    const login = logins.get(client);
    if (login === undefined) return next.authorizeSubscribe(client, subscription, done);
    subscribeAsRole(login, client, subscription, done);
  };

  return { authenticate, authorizePublish, authorizeSubscribe, authorizeForward: next.authorizeForward };
}
