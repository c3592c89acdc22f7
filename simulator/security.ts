import { readFile } from 'node:fs/promises';
import type { ISecureClientOptions } from 'mqtt';
import { certificateClientId, loadClientCertificates, ROLES, type Role } from '../broker/index.js';
import { OptionsError, isValidId } from '../protocol/index.js';

/** How one simulated device connects to a broker that wants to know it: a login, TLS options, or both. */
export interface DeviceSecurity {
  readonly username?: string;
  readonly password?: string;
  readonly tls?: ISecureClientOptions;
}

/** How the simulation's aggregator connects: as a device does, and with the client id its certificate allows. */
export interface AggregatorSecurity extends DeviceSecurity {
  readonly clientId?: string;
}

/**
 * Credentials or certificates of a simulated fleet against an external broker run with `--auth`
 * or mutual TLS (`simulate --broker URL --passwords FILE | --certs DIR [--ca FILE]`), so that a
 * deployment's security is rehearsed by the same clients that will run it.
 */
export interface FleetSecurity {
  /** Where the logins come from, without blanks (a `key=value` of the start-up settings): `passwords:FILE`, `certs:DIR`, `ca:FILE`. */
  readonly describe: string;
  readonly aggregator: AggregatorSecurity;
  /** The device's login or certificate; throws `OptionsError` when `id` has none. */
  device(id: string): DeviceSecurity;
}

/**
 * Plain-text logins for the simulation, one `ROLE NAME PASSWORD` line each (the credentials file
 * of `fedmq broker --auth` holds the scrypt hashes of the same passwords, made with `fedmq passwd`);
 * `#` comments and blank lines ignored. The aggregator logs in with the file's aggregator line.
 */
export function parsePasswords(text: string, source: string, option = 'passwords'): Map<string, { role: Role; password: string }> {
  const out = new Map<string, { role: Role; password: string }>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fail = (why: string): never => {
      throw new OptionsError(option, `${source}:${i + 1}: ${why}`);
    };
    const [role, name, password, ...extra] = line.split(/\s+/);
    if (password === undefined || extra.length > 0) fail('expected ROLE NAME PASSWORD (a password without blanks)');
    if (!ROLES.includes(role as Role)) fail(`unknown role "${role}"; one of ${ROLES.join(', ')}`);
    if (!isValidId(name!)) fail(`bad name "${name}": 1-64 letters, digits, '_', '.', ':' or '-'`);
    if (out.has(name!)) fail(`${name} appears twice`);
    out.set(name!, { role: role as Role, password: password! });
  });
  return out;
}

/** `ca` (PEM) to trust for `mqtts://` and `wss://`, if given. */
function trusting(ca: string | undefined): { tls?: ISecureClientOptions } {
  return ca === undefined ? {} : { tls: { ca } };
}

/** The fleet's logins from a `ROLE NAME PASSWORD` file; `ca` (PEM) is trusted for a TLS broker. */
export async function loadFleetPasswords(file: string, ca?: string, option = 'passwords'): Promise<FleetSecurity> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new OptionsError(option, `cannot read ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`, { cause: error });
  }
  const logins = parsePasswords(text, file, option);
  const hub = [...logins].find(([, l]) => l.role === 'aggregator');
  if (hub === undefined) throw new OptionsError(option, `${file} has no aggregator line: the simulation's aggregator logs in too`);
  return {
    describe: `passwords:${file}`,
    aggregator: { username: hub[0], password: hub[1].password, ...trusting(ca) },
    device(id) {
      const login = logins.get(id);
      if (login?.role !== 'device') throw new OptionsError(option, `${file} has no device line for ${id} (simulated devices are named ${id.replace(/\d+$/, 'N')}...)`);
      return { username: id, password: login.password, ...trusting(ca) };
    },
  };
}

/**
 * The fleet's certificates from a `fedmq certs` folder: each device its `DIR/device/ID.crt`, the
 * aggregator the folder's (first) aggregator certificate; the broker is trusted by `DIR/ca.crt`
 * unless `ca` (PEM) is given.
 */
export async function loadFleetCertificates(dir: string, ca?: string, option = 'certs'): Promise<FleetSecurity> {
  const devices = await loadClientCertificates(dir, 'device', option);
  const aggregators = await loadClientCertificates(dir, 'aggregator', option);
  const hub = aggregators.values().next().value;
  if (hub === undefined) throw new OptionsError(option, `${dir} has no aggregator certificate: make one with fedmq certs --dir ${dir} --role aggregator --name hub`);
  const trusted = ca ?? hub.ca;
  return {
    describe: `certs:${dir}`,
    aggregator: { tls: { ca: trusted, cert: hub.cert, key: hub.key }, clientId: certificateClientId(hub.identity, `simulation-${process.pid}`) },
    device(id) {
      const device = devices.get(id);
      if (device === undefined) throw new OptionsError(option, `${dir} has no certificate for device ${id}: fedmq certs --dir ${dir} --role device --name ${id}`);
      return { tls: { ca: trusted, cert: device.cert, key: device.key } };
    },
  };
}

/** Only trust (`ca`, PEM), for a TLS broker that asks no one who they are. */
export function trustOnly(ca: string, describe = 'ca'): FleetSecurity {
  return { describe, aggregator: { tls: { ca } }, device: () => ({ tls: { ca } }) };
}
