import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { OptionsError, isValidId } from '../protocol/index.js';

/**
 * Who a client is once it logged in: a `device` (publishes only its own `update/{id}` and
 * `status/{id}`, reads only fleet-wide topics), the `aggregator` (publishes the fleet's task,
 * globals, rounds and metrics) or a `monitor` (reads everything, publishes nothing).
 */
export type Role = 'device' | 'aggregator' | 'monitor';
export const ROLES: readonly Role[] = ['device', 'aggregator', 'monitor'];

export interface Credential {
  role: Role;
  /** The MQTT username; a device's is also its device id and MQTT client id. */
  name: string;
  /** `scrypt$N$r$p$SALT$KEY` (base64 salt and key), as `hashPassword` writes it. */
  hash: string;
}

/** Credentials by username. */
export type Credentials = ReadonlyMap<string, Credential>;

/** scrypt's cost: Node's defaults (N 2^14, r 8, p 1): 16 MiB and 65 ms a check on this machine's cores (more on a Pi). */
const COST = { N: 16384, r: 8, p: 1 };
const KEY_BYTES = 32;

function derive(password: string, salt: Buffer, cost: typeof COST): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_BYTES, { ...cost, maxmem: 256 * cost.N * cost.r }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** A salted scrypt hash of `password`, for a credentials file. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, COST);
  return `scrypt$${COST.N}$${COST.r}$${COST.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Whether `password` matches `hash` (constant-time comparison; false for a malformed hash). */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const parts = hash.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4]!, 'base64');
  const expected = Buffer.from(parts[5]!, 'base64');
  if (![N, r, p].every((n) => Number.isSafeInteger(n) && n > 0) || expected.byteLength !== KEY_BYTES) return false;
  const key = await derive(password, salt, { N, r, p });
  return timingSafeEqual(key, expected);
}

/**
 * Reads a credentials file: one `ROLE NAME HASH` line per client (`fedmq passwd` writes
 * them), `#` comments and blank lines ignored. Throws `OptionsError('auth', ...)` naming the
 * line of any mistake.
 */
export function parseCredentials(text: string, source = 'credentials'): Credentials {
  const out = new Map<string, Credential>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fail = (why: string): never => {
      throw new OptionsError('auth', `${source}:${i + 1}: ${why}`);
    };
    const [role, name, hash, ...extra] = line.split(/\s+/);
    if (extra.length > 0 || hash === undefined) fail('expected ROLE NAME HASH');
    if (!ROLES.includes(role as Role)) fail(`unknown role "${role}"; one of ${ROLES.join(', ')}`);
    if (!isValidId(name!)) fail(`bad name "${name}": 1-64 letters, digits, '_', '.', ':' or '-' (a device's name is its id)`);
    if (!/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/.test(hash!)) fail(`the hash of ${name} is not a fedmq scrypt hash`);
    if (out.has(name!)) fail(`${name} appears twice`);
    out.set(name!, { role: role as Role, name: name!, hash: hash! });
  });
  return out;
}

export async function loadCredentials(file: string): Promise<Credentials> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new OptionsError('auth', `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  return parseCredentials(text, file);
}

/**
 * Checks a login against `credentials`. A password that passed once is remembered (as its
 * SHA-256) so that a reconnect storm of a whole fleet costs one scrypt per device, not one
 * per connection; a changed file means a new `Authenticator`.
 */
export class Authenticator {
  private readonly passed = new Map<string, string>();

  constructor(readonly credentials: Credentials) {}

  /** The client's credential when `name` and `password` match, else null. */
  async check(name: string | undefined, password: Buffer | undefined): Promise<Credential | null> {
    const credential = name === undefined ? undefined : this.credentials.get(name);
    if (!credential || password === undefined) return null;
    const digest = createHash('sha256').update(password).digest('hex');
    if (this.passed.get(credential.name) === digest) return credential;
    if (!(await verifyPassword(password.toString('utf8'), credential.hash))) return null;
    this.passed.set(credential.name, digest);
    return credential;
  }
}
