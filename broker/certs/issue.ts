import { X509Certificate as NodeCertificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import type * as X509 from '@peculiar/x509';
import { ROLE_ATTRIBUTE, type CertificateIdentity } from './identity.js';

/**
 * Keys are ECDSA P-256 with SHA-256: what every TLS stack of a fleet speaks (Node, OpenSSL 1.1 on
 * old boards, Mosquitto, browsers for the dashboard over wss://), with 64-byte signatures and
 * key generation in a millisecond. Ed25519 is not offered by browsers' TLS.
 */
const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** How long a CA certificate is valid, in days (a home or lab CA is made once). */
export const DEFAULT_CA_DAYS = 3650;
/** How long a broker's or client's certificate is valid: 825 days, the most Apple's TLS stacks accept for a private CA. */
export const DEFAULT_LEAF_DAYS = 825;

/** A certificate and its private key, both PEM (the key PKCS#8, unencrypted: it is written mode 0600). */
export interface CertificatePair {
  readonly cert: string;
  readonly key: string;
}

/** When a certificate starts and ends: from a minute ago (clocks of small boards drift) for `days`. */
export interface Validity {
  /** @default new Date() */
  now?: Date;
  days?: number;
}

let loaded: Promise<typeof X509> | undefined;

/**
 * `@peculiar/x509`, loaded on first use, so that a broker or an agent that never makes a
 * certificate does not load it (nor `reflect-metadata`, which its dependency tsyringe needs and
 * which adds to the global `Reflect`).
 */
function x509(): Promise<typeof X509> {
  return (loaded ??= (async () => {
    await import('reflect-metadata');
    const lib = await import('@peculiar/x509');
    lib.cryptoProvider.set(webcrypto as unknown as Parameters<typeof lib.cryptoProvider.set>[0]);
    return lib;
  })());
}

function window(validity: Validity, defaultDays: number): { notBefore: Date; notAfter: Date } {
  const now = validity.now ?? new Date();
  const days = validity.days ?? defaultDays;
  if (!Number.isInteger(days) || days < 1 || days > 36_500) throw new RangeError(`days must be an integer in 1..36500, got ${days}`);
  return { notBefore: new Date(now.getTime() - 60_000), notAfter: new Date(now.getTime() + days * 86_400_000) };
}

/** A positive 16-byte serial number (RFC 5280 4.1.2.2: unique per CA, at most 20 bytes). */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return bytes.toString('hex');
}

async function newKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
}

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END PRIVATE KEY-----\n`;
}

/** A self-signed CA: may sign certificates, not further CAs (path length 0). Named apart from other fedmq CAs, so chains are never confused by name. */
export async function createAuthority(name = `fedmq CA ${randomBytes(4).toString('hex')}`, validity: Validity = {}): Promise<CertificatePair> {
  const lib = await x509();
  const keys = await newKeys();
  const cert = await lib.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(), name: [{ CN: [name] }], keys, signingAlgorithm: SIGNING_ALGORITHM, ...window(validity, DEFAULT_CA_DAYS),
    extensions: [
      new lib.BasicConstraintsExtension(true, 0, true),
      new lib.KeyUsagesExtension(lib.KeyUsageFlags.keyCertSign | lib.KeyUsageFlags.cRLSign, true),
      await lib.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: await keyPem(keys.privateKey) };
}

/** The broker's server certificate, valid for each of `hosts` (DNS names or IP addresses). */
export async function issueBroker(ca: CertificatePair, hosts: readonly string[], validity: Validity = {}): Promise<CertificatePair> {
  if (hosts.length === 0) throw new RangeError('a broker certificate needs at least one host name or address');
  const lib = await x509();
  const names = hosts.map((value) => ({ type: isIP(value) === 0 ? 'dns' as const : 'ip' as const, value }));
  return issue(lib, ca, [{ CN: [hosts[0]!] }], validity, [
    new lib.SubjectAlternativeNameExtension(names, false),
    new lib.ExtendedKeyUsageExtension([lib.ExtendedKeyUsage.serverAuth], false),
  ]);
}

/** A client's certificate: CN its name, OU its role (see `identity.ts`), for TLS client authentication only. */
export async function issueClient(ca: CertificatePair, identity: CertificateIdentity, validity: Validity = {}): Promise<CertificatePair> {
  const lib = await x509();
  return issue(lib, ca, [{ CN: [identity.name] }, { [ROLE_ATTRIBUTE]: [identity.role] }], validity, [
    new lib.ExtendedKeyUsageExtension([lib.ExtendedKeyUsage.clientAuth], false),
  ]);
}

async function issue(lib: typeof X509, ca: CertificatePair, subject: X509.JsonName, validity: Validity, extensions: X509.Extension[]): Promise<CertificatePair> {
  const caCert = new lib.X509Certificate(ca.cert);
  const caKey = await webcrypto.subtle.importKey('pkcs8', createPrivateKey(ca.key).export({ type: 'pkcs8', format: 'der' }), { ...KEY_ALGORITHM }, false, ['sign']);
  const keys = await newKeys();
  const cert = await lib.X509CertificateGenerator.create({
    serialNumber: serial(), subject, issuer: caCert.subject, publicKey: keys.publicKey, signingKey: caKey,
    signingAlgorithm: SIGNING_ALGORITHM, ...window(validity, DEFAULT_LEAF_DAYS),
    extensions: [
      new lib.BasicConstraintsExtension(false, undefined, true),
      new lib.KeyUsagesExtension(lib.KeyUsageFlags.digitalSignature, true),
      await lib.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await lib.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
      ...extensions,
    ],
  });
  const pem = cert.toString('pem');
  // Checked with Node's own X.509 code: a certificate this CA would not verify is never written.
  if (!new NodeCertificate(pem).verify(new NodeCertificate(ca.cert).publicKey)) throw new Error('the new certificate does not verify against the CA');
  return { cert: pem, key: await keyPem(keys.privateKey) };
}
