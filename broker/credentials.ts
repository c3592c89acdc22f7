import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { OptionsError, isValidId } from '../protocol/index.js';
import { LoginRefusedError, LoginRefuseReason } from './errors.js';
import { parseLoginLimits, type LoginLimits, type ParsedLoginLimits } from './options.js';

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
 * Checks a login against `credentials`, spending scrypt with care:
 * - a password that passed once is remembered (as its SHA-256), so a reconnect storm of a
 *   whole fleet costs one scrypt per device, not one per connection, and is never throttled;
 *   a changed file means a new `Authenticator`;
 * - an unknown username costs the same scrypt as a known one (checked against a dummy hash),
 *   so refusal times do not tell which usernames exist;
 * - checks run a few at a time from a bounded queue, addresses without recent failures first,
 *   at most a few per address, so a flood of wrong passwords cannot starve an honest login;
 * - an address or a username with too many recent failures is refused without a check.
 * See {@link LoginLimits} for the numbers.
 */
export class Authenticator {
  private readonly passed = new Map<string, string>();
  private readonly limits: ParsedLoginLimits;
  private readonly failures: FailureLog;
  private readonly queue: CheckQueue;
  private dummy: Promise<string> | undefined;

  constructor(readonly credentials: Credentials, limits: LoginLimits = {}) {
    this.limits = parseLoginLimits(limits);
    this.failures = new FailureLog(this.limits.failureWindowMs);
    this.queue = new CheckQueue(this.limits, (source) => this.failures.count(`ip ${source}`) > 0);
  }

  /**
   * The client's credential when `name` and `password` match; otherwise rejects with a
   * {@link LoginRefusedError} (bad credentials, throttled or busy). `source` is the peer
   * address, `clientId` only names the client in messages.
   */
  async check(name: string | undefined, password: Buffer | undefined, source = 'unknown', clientId?: string): Promise<Credential> {
    const refuse = (reason: LoginRefuseReason, code: 3 | 4 | 5, why: string): LoginRefusedError =>
      new LoginRefusedError(reason, code, clientId, `${why} (client ${clientId ?? '?'} from ${source})`);
    if (name === undefined || password === undefined) throw refuse(LoginRefuseReason.NoCredentials, 4, 'no username or password');
    const credential = this.credentials.get(name);
    const digest = createHash('sha256').update(password).digest('hex');
    if (credential && this.passed.get(credential.name) === digest) return credential;
    const { maxFailuresPerSource, maxFailuresPerUsername, failureWindowMs } = this.limits;
    const throttled = (): string | undefined => {
      if (this.failures.count(`ip ${source}`) >= maxFailuresPerSource) return `${maxFailuresPerSource} failed logins from ${source} within ${failureWindowMs} ms`;
      if (this.failures.count(`user ${name}`) >= maxFailuresPerUsername) return `${maxFailuresPerUsername} failed logins for this username within ${failureWindowMs} ms`;
      return undefined;
    };
    const before = throttled();
    if (before !== undefined) throw refuse(LoginRefuseReason.Throttled, 5, before);
    const hash = credential?.hash ?? (await (this.dummy ??= hashPassword(randomBytes(16).toString('base64'))));
    // Asked again when its turn comes: failures may have piled up while it waited.
    const ok = await this.queue.run(source, async () => (throttled() === undefined ? verifyPassword(password.toString('utf8'), hash) : 'throttled' as const));
    if (ok === undefined) throw refuse(LoginRefuseReason.Busy, 3, 'too many password checks waiting');
    if (ok === 'throttled') throw refuse(LoginRefuseReason.Throttled, 5, throttled() ?? 'too many failed logins');
    if (!ok || !credential) {
      this.failures.add(`ip ${source}`);
      this.failures.add(`user ${name}`);
      throw refuse(LoginRefuseReason.BadCredentials, 4, 'bad username or password');
    }
    this.passed.set(credential.name, digest);
    return credential;
  }
}

/** Failures per key in a fixed window, for at most `maxKeys` keys (the oldest forgotten first). */
class FailureLog {
  private readonly entries = new Map<string, { since: number; count: number }>();
  constructor(private readonly windowMs: number, private readonly maxKeys = 100_000) {}

  count(key: string): number {
    const entry = this.entries.get(key);
    if (!entry) return 0;
    if (performance.now() - entry.since > this.windowMs) {
      this.entries.delete(key);
      return 0;
    }
    return entry.count;
  }

  add(key: string): void {
    const count = this.count(key);
    const since = count === 0 ? performance.now() : this.entries.get(key)!.since;
    this.entries.delete(key); // re-inserted last: the map stays in order of last failure
    this.entries.set(key, { since, count: count + 1 });
    if (this.entries.size > this.maxKeys) this.entries.delete(this.entries.keys().next().value!);
  }
}

/**
 * Runs password checks at most `maxConcurrentChecks` at a time. Waiting checks are taken
 * addresses without recent failures first, then those with the fewest checks running, then in
 * order of arrival.
 */
class CheckQueue {
  private running = 0;
  private readonly waiting: { source: string; start: () => void; drop: () => void }[] = [];
  private readonly perSource = new Map<string, { pending: number; running: number }>();

  constructor(private readonly limits: ParsedLoginLimits, private readonly suspect: (source: string) => boolean) {}

  /**
   * `task`'s result once its turn came, or undefined at once when the source's share is full.
   * When the whole queue is full, a newcomer takes the place of the last waiting check of the
   * worst-placed source (one with failures, else the one with most checks), if that source is
   * worse placed than its own; the check it replaces gets undefined.
   */
  run<T>(source: string, task: () => Promise<T>): Promise<T | undefined> {
    const mine = this.perSource.get(source) ?? { pending: 0, running: 0 };
    if (mine.pending >= this.limits.maxChecksPerSource) return Promise.resolve(undefined);
    if (this.waiting.length >= this.limits.maxQueuedChecks && !this.evictFor(source)) return Promise.resolve(undefined);
    mine.pending += 1;
    this.perSource.set(source, mine);
    return new Promise<T | undefined>((resolve, reject) => {
      const done = (): void => {
        mine.pending -= 1;
        if (mine.pending === 0) this.perSource.delete(source);
      };
      this.waiting.push({
        source,
        start: () => {
          this.running += 1;
          mine.running += 1;
          task().then(resolve, reject).finally(() => {
            this.running -= 1;
            mine.running -= 1;
            done();
            this.pump();
          });
        },
        drop: () => {
          done();
          resolve(undefined);
        },
      });
      this.pump();
    });
  }

  /** How badly placed `source` is: sources with failures last, then by checks pending. */
  private rank(source: string): number {
    return (this.suspect(source) ? 1_000_000 : 0) + (this.perSource.get(source)?.pending ?? 0);
  }

  /** Drops the last waiting check of the worst-placed source if it ranks below `source`'s next one. */
  private evictFor(source: string): boolean {
    let worst = -1;
    let worstRank = this.rank(source) + 1;
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const rank = this.rank(this.waiting[i]!.source);
      if (rank > worstRank) {
        worst = i;
        worstRank = rank;
      }
    }
    if (worst < 0) return false;
    const [dropped] = this.waiting.splice(worst, 1);
    dropped!.drop();
    return true;
  }

  private pump(): void {
    while (this.running < this.limits.maxConcurrentChecks && this.waiting.length > 0) {
      let best = 0;
      let bestRank = Infinity;
      for (let i = 0; i < this.waiting.length; i++) {
        const source = this.waiting[i]!.source;
        const rank = (this.suspect(source) ? 1_000_000 : 0) + (this.perSource.get(source)?.running ?? 0);
        if (rank < bestRank) {
          best = i;
          bestRank = rank;
        }
      }
      const [next] = this.waiting.splice(best, 1);
      next!.start();
    }
  }
}
