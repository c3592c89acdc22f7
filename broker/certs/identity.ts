import { X509Certificate } from 'node:crypto';
import { isValidId } from '../../protocol/index.js';
import { ROLES, type Role } from '../credentials.js';

/**
 * Who a certificate says its holder is: the subject's common name (CN) is the client's name (a
 * device's is its device id), its organizational unit (OU) the client's role. The role is a field
 * of its own, signed by the CA, rather than a pattern of the name (`aggregator-...`): a device id
 * may be any id, so a name pattern would make a device named `aggregator-x` an aggregator, and
 * broker-side rules would have to guess. One OU, one CN: a subject with two of either is refused.
 */
export interface CertificateIdentity {
  readonly role: Role;
  readonly name: string;
}

/** The subject attribute that holds the role. */
export const ROLE_ATTRIBUTE = 'OU';

/**
 * Between an aggregator's or monitor's name and the rest of its client id (`hub/default-4711`):
 * several processes may share one such certificate, each with its own client id. No device id
 * can hold a `/` (topic levels), so no certificate but a device's can take a device's client id.
 */
export const CLIENT_ID_SEPARATOR = '/';

/**
 * The identity in a certificate subject, as Node gives it (`tlsSocket.getPeerCertificate().subject`:
 * one string per attribute, an array when repeated), or why there is none.
 */
export function identityFromSubject(subject: Readonly<Record<string, string | string[] | undefined>> | undefined): CertificateIdentity | { problem: string } {
  const name = subject?.CN;
  const role = subject?.[ROLE_ATTRIBUTE];
  if (typeof name !== 'string') return { problem: name === undefined ? 'the certificate has no common name (CN)' : 'the certificate has more than one common name (CN)' };
  if (!isValidId(name)) return { problem: `the certificate's common name "${name}" is not a fedmq name: 1-64 letters, digits, '_', '.', ':' or '-'` };
  if (typeof role !== 'string') return { problem: `the certificate of ${name} has ${role === undefined ? 'no' : 'more than one'} role (${ROLE_ATTRIBUTE}); one of ${ROLES.join(', ')}` };
  if (!ROLES.includes(role as Role)) return { problem: `the certificate of ${name} has an unknown role ${ROLE_ATTRIBUTE}=${role}; one of ${ROLES.join(', ')}` };
  return { role: role as Role, name };
}

/** The identity in a PEM certificate (a client's own `--cert`), or why there is none; throws on what is not a certificate. */
export function identityOfCertificate(pem: string | Buffer): CertificateIdentity | { problem: string } {
  return identityFromSubject(parseSubject(new X509Certificate(pem).subject));
}

/** `X509Certificate.subject` (`CN=pi-01\nOU=device`) as the record `getPeerCertificate()` gives. */
function parseSubject(subject: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const line of subject.split('\n')) {
    const at = line.indexOf('=');
    if (at < 1) continue;
    const key = line.slice(0, at);
    const value = line.slice(at + 1);
    const before = out[key];
    out[key] = before === undefined ? value : [...(Array.isArray(before) ? before : [before]), value];
  }
  return out;
}

/** Why a client holding `identity` may not connect as `clientId`, or undefined. */
export function clientIdRefusal(identity: CertificateIdentity, clientId: string): string | undefined {
  if (identity.role === 'device') {
    return clientId === identity.name ? undefined : `device ${identity.name}'s certificate connects with client id ${identity.name} only, not ${clientId}`;
  }
  if (clientId === identity.name || clientId.startsWith(`${identity.name}${CLIENT_ID_SEPARATOR}`)) return undefined;
  return `${identity.role} ${identity.name}'s certificate connects with client id ${identity.name} or ${identity.name}${CLIENT_ID_SEPARATOR}..., not ${clientId}`;
}

/** The client id an aggregator or monitor with `identity` uses: `NAME/SUFFIX` (a device's is its name). */
export function certificateClientId(identity: CertificateIdentity, suffix: string): string {
  return identity.role === 'device' ? identity.name : `${identity.name}${CLIENT_ID_SEPARATOR}${suffix}`;
}
