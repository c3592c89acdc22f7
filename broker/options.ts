import { OptionsError } from '../protocol/errors.js';
import { defaultBrokerHooks, type BrokerHooks } from './hooks/index.js';

export const DEFAULT_HOST = '0.0.0.0';
/** IANA-registered MQTT port. */
export const DEFAULT_PORT = 1883;
export const DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;
/** The largest Remaining Length MQTT can encode, so no payload can be bigger [MQTT-2.2.3]. */
export const MAX_MQTT_REMAINING_LENGTH = 268_435_455;

export interface BrokerOptions {
  /** Address the listeners bind. @default '0.0.0.0' */
  host?: string;
  /** MQTT over TCP port; 0 picks a free one. @default 1883 */
  port?: number;
  /** MQTT-over-WebSocket port; `undefined` = no WebSocket listener, 0 = pick a free one. @default undefined */
  wsPort?: number;
  /** Largest PUBLISH payload accepted, in bytes. @default 16 MiB */
  maxPayloadBytes?: number;
  /** Aedes hooks to override; the rest keep the safe defaults of `broker/hooks/`. @default {} */
  hooks?: Partial<BrokerHooks>;
}

/** Options after validation, every default filled in. */
export interface ParsedBrokerOptions {
  readonly host: string;
  readonly port: number;
  readonly wsPort: number | undefined;
  readonly maxPayloadBytes: number;
  readonly hooks: Readonly<BrokerHooks>;
}

export function defaultBrokerOptions(): ParsedBrokerOptions {
  return {
    host: DEFAULT_HOST,
    port: DEFAULT_PORT,
    wsPort: undefined,
    maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES,
    hooks: defaultBrokerHooks(),
  };
}

const HOOK_NAMES: ReadonlySet<string> = new Set(Object.keys(defaultBrokerHooks()));

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
  return { host, port, wsPort, maxPayloadBytes, hooks: parseHooks(options.hooks ?? {}, defaults.hooks) };
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
