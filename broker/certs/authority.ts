import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { OptionsError } from '../../protocol/index.js';
import { ROLES, type Role } from '../credentials.js';
import { identityOfCertificate, type CertificateIdentity } from './identity.js';
import { createAuthority, issueBroker, issueClient, type CertificatePair, type Validity } from './issue.js';

/**
 * A fleet's certificate folder, as `fedmq certs` keeps it:
 * ```
 * DIR/ca.crt  ca.key                 the CA (ca.key never leaves this folder)
 * DIR/broker.crt  broker.key         the broker's server certificate
 * DIR/{device,aggregator,monitor}/NAME.crt  NAME.key
 * ```
 * Keys are written mode 0600, folders 0700, certificates 0644.
 */
export interface AuthorityFiles {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly brokerCert: string;
  readonly brokerKey: string;
}

export function authorityFiles(dir: string): AuthorityFiles {
  return {
    dir, caCert: path.join(dir, 'ca.crt'), caKey: path.join(dir, 'ca.key'),
    brokerCert: path.join(dir, 'broker.crt'), brokerKey: path.join(dir, 'broker.key'),
  };
}

/** Where a client's certificate and key are kept in `dir`. */
export function clientFiles(dir: string, identity: CertificateIdentity): { cert: string; key: string } {
  const base = path.join(dir, identity.role, identity.name);
  return { cert: `${base}.crt`, key: `${base}.key` };
}

/** Host names and addresses every broker certificate holds besides the ones asked for, so a broker is reachable on this machine. */
export const LOCAL_HOSTS = ['localhost', '127.0.0.1', '::1'] as const;

export interface IssueOptions extends Validity {
  /** Replace files that exist. @default false: an existing file is an error */
  force?: boolean;
}

/** Makes the CA and the broker's certificate (for `hosts` and {@link LOCAL_HOSTS}) in `dir`; returns the files written. */
export async function initAuthority(dir: string, hosts: readonly string[], options: IssueOptions & { name?: string } = {}): Promise<string[]> {
  const files = authorityFiles(dir);
  await refuseExisting([files.caCert, files.caKey, files.brokerCert, files.brokerKey], options.force);
  const ca = await createAuthority(options.name, options);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writePair(files.caCert, files.caKey, ca, options.force);
  const broker = await issueBroker(ca, uniqueHosts(hosts), options);
  await writePair(files.brokerCert, files.brokerKey, broker, options.force);
  return [files.caCert, files.caKey, files.brokerCert, files.brokerKey];
}

/** (Re)issues the broker's certificate for `hosts` with the CA in `dir`; returns the files written. */
export async function addBroker(dir: string, hosts: readonly string[], options: IssueOptions = {}): Promise<string[]> {
  const files = authorityFiles(dir);
  await refuseExisting([files.brokerCert, files.brokerKey], options.force);
  const ca = await loadAuthority(dir);
  await writePair(files.brokerCert, files.brokerKey, await issueBroker(ca, uniqueHosts(hosts), options), options.force);
  return [files.brokerCert, files.brokerKey];
}

/**
 * Issues a client certificate with the CA in `dir`. A name has one certificate in the folder,
 * whatever its role: the broker binds a client to its name, so `hub` the device and `hub` the
 * aggregator would be two holders of one name.
 */
export async function addClient(dir: string, identity: CertificateIdentity, options: IssueOptions = {}): Promise<string[]> {
  const files = clientFiles(dir, identity);
  for (const role of ROLES) {
    if (role === identity.role) continue;
    const other = clientFiles(dir, { role, name: identity.name });
    if (await exists(other.cert)) throw new OptionsError('name', `${identity.name} already has a ${role} certificate (${other.cert}); one name, one role`);
  }
  await refuseExisting([files.cert, files.key], options.force);
  const ca = await loadAuthority(dir);
  await mkdir(path.dirname(files.cert), { recursive: true, mode: 0o700 });
  await writePair(files.cert, files.key, await issueClient(ca, identity, options), options.force);
  return [files.cert, files.key];
}

/** The CA in `dir`, checked: both files readable, the key the certificate's. Throws `OptionsError('dir', ...)`. */
export async function loadAuthority(dir: string): Promise<CertificatePair> {
  const files = authorityFiles(dir);
  const cert = await readPem(files.caCert, 'dir', 'CA certificate');
  const key = await readPem(files.caKey, 'dir', 'CA key');
  checkPair(cert, key, files.caCert, files.caKey, 'dir');
  return { cert, key };
}

/** A client's certificate, key and CA from `dir` (`simulate --certs`): the identity is read from the certificate. */
export interface ClientCertificate {
  readonly identity: CertificateIdentity;
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** Every client certificate in `dir` of `role`, by name (`simulate --certs DIR`). Throws `OptionsError(option, ...)`. */
export async function loadClientCertificates(dir: string, role: Role, option = 'certs'): Promise<Map<string, ClientCertificate>> {
  const ca = await readPem(authorityFiles(dir).caCert, option, 'CA certificate');
  const folder = path.join(dir, role);
  let entries: string[];
  try {
    entries = await readdir(folder);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new OptionsError(option, `cannot read ${folder}: ${(error as Error).message}`, { cause: error });
  }
  const out = new Map<string, ClientCertificate>();
  for (const entry of entries.filter((e) => e.endsWith('.crt')).sort()) {
    const certFile = path.join(folder, entry);
    const keyFile = certFile.replace(/\.crt$/, '.key');
    const cert = await readPem(certFile, option, 'certificate');
    const key = await readPem(keyFile, option, 'key');
    checkPair(cert, key, certFile, keyFile, option);
    const identity = identityOfCertificate(cert);
    if ('problem' in identity) throw new OptionsError(option, `${certFile}: ${identity.problem}`);
    if (identity.role !== role) throw new OptionsError(option, `${certFile} is a ${identity.role} certificate, in the ${role} folder`);
    out.set(identity.name, { identity, cert, key, ca });
  }
  return out;
}

/** A PEM file's text; a missing or unreadable file, or one that is not PEM, is a one-line `OptionsError(option, ...)`. */
export async function readPem(file: string, option: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new OptionsError(option, `${what} ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message}`, { cause: error });
  }
  if (!/-----BEGIN [A-Z0-9 ]+-----/.test(text)) throw new OptionsError(option, `${what} ${file} is not a PEM file (no -----BEGIN ...----- line)`);
  return text;
}

/**
 * Throws `OptionsError` unless `cert` parses as a certificate (naming `certOption`), `key` as an
 * unencrypted private key, and the key is the certificate's (naming `keyOption`, by default the same).
 */
export function checkPair(cert: string, key: string, certFile: string, keyFile: string, certOption: string, keyOption = certOption): void {
  let parsed: X509Certificate;
  try {
    parsed = new X509Certificate(cert);
  } catch (error) {
    throw new OptionsError(certOption, `${certFile} is not an X.509 certificate: ${(error as Error).message}`, { cause: error });
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new OptionsError(keyOption, `${keyFile} is not an unencrypted private key: ${(error as Error).message}`, { cause: error });
  }
  if (!parsed.checkPrivateKey(privateKey)) throw new OptionsError(keyOption, `${keyFile} is not the key of ${certFile}`);
}

function uniqueHosts(hosts: readonly string[]): string[] {
  return [...new Set([...hosts, ...LOCAL_HOSTS])];
}

async function exists(file: string): Promise<boolean> {
  return readFile(file).then(() => true, () => false);
}

async function refuseExisting(files: string[], force = false): Promise<void> {
  if (force) return;
  for (const file of files) {
    if (await exists(file)) throw new OptionsError('dir', `${file} exists; give --force to replace it`);
  }
}

async function writePair(certFile: string, keyFile: string, pair: CertificatePair, force = false): Promise<void> {
  // A replaced key is removed first: writeFile's mode applies only to a file it creates.
  if (force) await Promise.all([rm(certFile, { force: true }), rm(keyFile, { force: true })]);
  await writeFile(keyFile, pair.key, { mode: 0o600, flag: 'wx' });
  await writeFile(certFile, pair.cert, { mode: 0o644, flag: 'wx' });
}
