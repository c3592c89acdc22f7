import { OptionsError } from '../protocol/errors.js';
import { systemClock, type Clock } from '../protocol/clock.js';
import { defaultBrokerHooks, type BrokerHooks } from './hooks/index.js';
import { parseTlsOptions, type BrokerTlsOptions, type ParsedBrokerTls } from './tlsOptions.js';

export const DEFAULT_HOST = '0.0.0.0';
/** IANA-registered MQTT port. */
export const DEFAULT_PORT = 1883;
export const DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;
/** The largest Remaining Length MQTT can encode, so no payload can be bigger [MQTT-2.2.3]. */
export const MAX_MQTT_REMAINING_LENGTH = 268_435_455;
export const DEFAULT_MAX_CONNECTIONS = 10_000;
export const DEFAULT_PACKET_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_INCOMPLETE_BYTES_TOTAL = 256 * 1024 * 1024;
/** Retained bytes per client, as a multiple of `maxPayloadBytes`: the aggregator retains a task, a global, a round. */
export const DEFAULT_RETAINED_PAYLOADS_PER_CLIENT = 4;

export interface BrokerOptions {
  /** Address the listeners bind. @default '0.0.0.0' */
  host?: string;
  /** MQTT over TCP port; 0 picks a free one. @default 1883 */
  port?: number;
  /** MQTT-over-WebSocket port; `undefined` = no WebSocket listener, 0 = pick a free one. @default undefined */
  wsPort?: number;
  /** Largest PUBLISH payload accepted, in bytes. @default 16 MiB */
  maxPayloadBytes?: number;
  /**
   * Connections open at once, TCP and WebSocket together; one more is closed as soon as it
   * arrives (counted as `too-many-connections`). @default 10000
   */
  maxConnections?: number;
  /**
   * Once the first byte of an MQTT packet has arrived, the whole packet must arrive within
   * this many milliseconds or the connection is closed (`packet-timeout`), so a client that
   * starts a large PUBLISH and stalls cannot hold its buffered bytes; keepalive does not
   * help, as a client may ask for none. 16 MiB takes 13 s at 10 Mbit/s. @default 30000
   */
  packetTimeoutMs?: number;
  /** Where `packetTimeoutMs` is measured; tests pass a `ManualClock`. @default systemClock */
  clock?: Clock;
  /**
   * Bytes that incomplete packets of all clients together may hold in the broker; the client
   * whose bytes would cross it is disconnected (`incomplete-bytes`). One client holds at most
   * one incomplete packet, itself capped by `maxPayloadBytes` (and, before its CONNECT is
   * accepted, by the largest CONNECT MQTT 3.1.1 can encode). @default 256 MiB, or one largest
   * packet if `maxPayloadBytes` allows more
   */
  maxIncompleteBytesTotal?: number;
  /**
   * Payload bytes of the retained messages one client id may keep on the broker, counted
   * from what it published (a retained message replaced or cleared no longer counts, one kept
   * after the client left still does); a retained PUBLISH over it is refused
   * (`retained-quota`). @default 4 × maxPayloadBytes (64 MiB)
   */
  maxRetainedBytesPerClient?: number;
  /** Aedes hooks to override; the rest keep the safe defaults of `broker/hooks/`. @default {} */
  hooks?: Partial<BrokerHooks>;
  /**
   * TLS listeners beside the clear-text ones, and, with a CA, client certificates as identities
   * (`tlsOptions.ts`). @default undefined: no TLS
   */
  tls?: BrokerTlsOptions;
}

/** Options after validation, every default filled in. */
export interface ParsedBrokerOptions {
  readonly host: string;
  readonly port: number;
  readonly wsPort: number | undefined;
  readonly maxPayloadBytes: number;
  readonly maxConnections: number;
  readonly packetTimeoutMs: number;
  readonly clock: Clock;
  readonly maxIncompleteBytesTotal: number;
  readonly maxRetainedBytesPerClient: number;
  readonly hooks: Readonly<BrokerHooks>;
  readonly tls: ParsedBrokerTls | undefined;
}

export function defaultBrokerOptions(): ParsedBrokerOptions {
  return {
    host: DEFAULT_HOST,
    port: DEFAULT_PORT,
    wsPort: undefined,
    maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES,
    maxConnections: DEFAULT_MAX_CONNECTIONS,
    packetTimeoutMs: DEFAULT_PACKET_TIMEOUT_MS,
    clock: systemClock,
    maxIncompleteBytesTotal: DEFAULT_MAX_INCOMPLETE_BYTES_TOTAL,
    maxRetainedBytesPerClient: DEFAULT_RETAINED_PAYLOADS_PER_CLIENT * DEFAULT_MAX_PAYLOAD_BYTES,
    hooks: defaultBrokerHooks(),
    tls: undefined,
  };
}

const HOOK_NAMES: ReadonlySet<string> = new Set(Object.keys(defaultBrokerHooks()));

/**
 * Whether listening on `host` keeps the broker to this machine: a loopback address (127.0.0.0/8,
 * ::1) or `localhost`. Anything else (0.0.0.0 included) can be reached from the network.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\./.test(h);
}

/** Validates `options` once and fills in defaults; throws {@link OptionsError}. */
export function parseBrokerOptions(options: BrokerOptions = {}): ParsedBrokerOptions {
  const defaults = defaultBrokerOptions();
  const host = options.host ?? defaults.host;
  if (typeof host !== 'string' || host.trim() === '') {
    throw new OptionsError('host', `must be a non-empty string, got ${JSON.stringify(host)}`);
  }
  const port = parsePort('port', options.port ?? defaults.port);
  const wsPort = options.wsPort === undefined ? undefined : parsePort('wsPort', options.wsPort);
  if (wsPort !== undefined && wsPort !== 0 && wsPort === port) {
    throw new OptionsError('wsPort', `must differ from port (${port})`);
  }
  const maxPayloadBytes = options.maxPayloadBytes ?? defaults.maxPayloadBytes;
  if (!Number.isInteger(maxPayloadBytes) || maxPayloadBytes < 1 || maxPayloadBytes > MAX_MQTT_REMAINING_LENGTH) {
    throw new OptionsError(
      'maxPayloadBytes',
      `must be an integer in 1..${MAX_MQTT_REMAINING_LENGTH}, got ${String(maxPayloadBytes)}`,
    );
  }
  const maxConnections = parseCount('maxConnections', options.maxConnections ?? defaults.maxConnections);
  const packetTimeoutMs = parseCount('packetTimeoutMs', options.packetTimeoutMs ?? defaults.packetTimeoutMs);
  const largestPacket = maxPacketBytes(maxPayloadBytes);
  const maxIncompleteBytesTotal = parseCount(
    'maxIncompleteBytesTotal',
    options.maxIncompleteBytesTotal ?? Math.max(defaults.maxIncompleteBytesTotal, largestPacket),
  );
  const maxRetainedBytesPerClient = parseCount(
    'maxRetainedBytesPerClient',
    options.maxRetainedBytesPerClient ?? DEFAULT_RETAINED_PAYLOADS_PER_CLIENT * maxPayloadBytes,
  );
  return {
    host, port, wsPort, maxPayloadBytes, maxConnections, packetTimeoutMs, clock: options.clock ?? defaults.clock, maxIncompleteBytesTotal, maxRetainedBytesPerClient,
    hooks: parseHooks(options.hooks ?? {}, defaults.hooks),
    tls: options.tls === undefined ? undefined : parseTlsOptions(options.tls, host, { port, wsPort }, parsePort),
  };
}

/**
 * Room for everything in a PUBLISH besides the payload: topic (2-byte length + up to
 * 65535 bytes), packet identifier (2) and, for MQTT 5, properties (64 KiB allowed).
 */
export const PUBLISH_OVERHEAD_BYTES = 2 + 65_535 + 2 + 65_536;

/** The largest Remaining Length a client may announce with `maxPayloadBytes`. */
export function maxPacketBytes(maxPayloadBytes: number): number {
  return maxPayloadBytes + PUBLISH_OVERHEAD_BYTES;
}

/** A positive safe integer. */
function parseCount(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new OptionsError(option, `must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function parsePort(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65_535) {
    throw new OptionsError(option, `must be an integer in 0..65535, got ${String(value)}`);
  }
  return value;
}

function parseHooks(hooks: Partial<BrokerHooks>, defaults: BrokerHooks): BrokerHooks {
  if (typeof hooks !== 'object' || hooks === null) {
    throw new OptionsError('hooks', 'must be an object of Aedes hook functions');
  }
  for (const [name, hook] of Object.entries(hooks)) {
    // A misspelt hook name would silently leave the default policy in place.
    if (!HOOK_NAMES.has(name)) {
      throw new OptionsError(`hooks.${name}`, `unknown hook; expected one of ${[...HOOK_NAMES].join(', ')}`);
    }
    if (hook !== undefined && typeof hook !== 'function') {
      throw new OptionsError(`hooks.${name}`, 'must be a function');
    }
  }
  return {
    authenticate: hooks.authenticate ?? defaults.authenticate,
    authorizePublish: hooks.authorizePublish ?? defaults.authorizePublish,
    authorizeSubscribe: hooks.authorizeSubscribe ?? defaults.authorizeSubscribe,
    authorizeForward: hooks.authorizeForward ?? defaults.authorizeForward,
  };
}

/**
 * How `--auth` spends its password checks (scrypt, ~65 ms of a core each), so that a flood of
 * wrong passwords neither starves honest logins nor tells which usernames exist. A login whose
 * password already passed since the broker started is recognised at once and never throttled.
 */
export interface LoginLimits {
  /** Password checks running at once (each holds a libuv thread and 16 MiB). @default 2 */
  maxConcurrentChecks?: number;
  /** Checks waiting for a turn, all sources together; one more is refused at once with CONNACK 3. @default 64 */
  maxQueuedChecks?: number;
  /**
   * Checks running or waiting for one source address; one more is refused at once with
   * CONNACK 3, so one address cannot fill the queue. @default 4
   */
  maxChecksPerSource?: number;
  /** The window failed logins are counted in. @default 60000 (one minute) */
  failureWindowMs?: number;
  /**
   * Failed logins from one address within the window after which its logins are refused
   * without a check (CONNACK 5) until the window ends; addresses with failures also wait
   * behind those without. @default 20
   */
  maxFailuresPerSource?: number;
  /**
   * Failed logins for one username (known or not, from anywhere) within the window after which
   * its logins are refused without a check (CONNACK 5), unless the password is one that already
   * passed. @default 20
   */
  maxFailuresPerUsername?: number;
}

export type ParsedLoginLimits = Readonly<Required<LoginLimits>>;

export const DEFAULT_LOGIN_LIMITS: ParsedLoginLimits = {
  maxConcurrentChecks: 2,
  maxQueuedChecks: 64,
  maxChecksPerSource: 4,
  failureWindowMs: 60_000,
  maxFailuresPerSource: 20,
  maxFailuresPerUsername: 20,
};

/** Validates `limits` once and fills in defaults; throws {@link OptionsError}. */
export function parseLoginLimits(limits: LoginLimits = {}): ParsedLoginLimits {
  const parsed = { ...DEFAULT_LOGIN_LIMITS };
  for (const key of Object.keys(limits) as (keyof LoginLimits)[]) {
    if (!(key in DEFAULT_LOGIN_LIMITS)) throw new OptionsError(`login.${key}`, `unknown; expected one of ${Object.keys(DEFAULT_LOGIN_LIMITS).join(', ')}`);
    const value = limits[key];
    if (value !== undefined) parsed[key] = parseCount(`login.${key}`, value);
  }
  return parsed;
}
