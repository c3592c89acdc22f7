import { accessSync, constants, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FOLLOW_MODES } from '../device-agent/index.js';

/** A command-line mistake: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface FlagSpec {
  type: 'string' | 'boolean';
  description: string;
  /** Shown in help, e.g. N or URL. */
  placeholder?: string;
  /** Shown in help; the library's own defaults apply when a flag is absent. */
  default?: string;
}

export type FlagSpecs = Record<string, FlagSpec>;
export type Flags = Record<string, string | boolean | undefined>;

export interface Command {
  name: string;
  summary: string;
  examples: string[];
  flags: FlagSpecs;
  /** Resolves with the process exit code. */
  run(flags: Flags): Promise<number>;
}

/**
 * Parses a command's flags: unknown flags, missing values, a flag given twice, positionals and
 * a bad value of a flag in {@link FLAG_CHECKS} are each a one-line `UsageError` naming the flag,
 * before the command starts anything. A negative number is a value (`--seed -1`), not a flag.
 */
export function parseFlags(argv: string[], specs: FlagSpecs): Flags {
  const all: FlagSpecs = { ...specs, help: HELP_FLAG };
  const options = Object.fromEntries(Object.entries(all).map(([k, s]) => [k, { type: s.type }]));
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof options; strict: true; allowPositionals: true; tokens: true }>>;
  try {
    parsed = parseArgs({ args: joinNegativeValues(argv, all), options, strict: true, allowPositionals: true, tokens: true });
  } catch (e) {
    throw new UsageError(parseArgsMessage(e as Error & { code?: string }));
  }
  const { values, positionals, tokens } = parsed;
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    if (seen.has(token.name)) throw new UsageError(`--${token.name} is given twice`);
    seen.add(token.name);
  }
  const flags = values as Flags;
  for (const [name, value] of Object.entries(flags)) {
    const check = FLAG_CHECKS[name];
    if (typeof value === 'string' && check && name in specs) {
      const problem = check(value);
      if (problem !== undefined) throw new UsageError(`--${name} ${problem}`);
    }
  }
  return flags;
}

// A number as a value: -3, -0.5, -.5, -1e3, -Infinity, -NaN (the check of the flag refuses what it must).
const NEGATIVE_NUMBER = /^-(?:\d|\.\d|Infinity$|NaN$)/;

/** `--seed -1` becomes `--seed=-1`: node:util's parseArgs takes any value starting with '-' for a flag. */
function joinNegativeValues(argv: string[], specs: FlagSpecs): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (arg === '--') return [...out, ...argv.slice(i)];
    if (arg.startsWith('--') && !arg.includes('=') && specs[arg.slice(2)]?.type === 'string' && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      out.push(`${arg}=${next}`);
      i += 1;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** node:util's parseArgs errors, cut to one line of fedmq's own words. */
function parseArgsMessage(e: Error & { code?: string }): string {
  const flag = /'(--?[^' ]+)/.exec(e.message)?.[1];
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag !== undefined) {
    if (/does not take an argument/.test(e.message)) return `${flag} takes no value`;
    return `${flag} needs a value (a value starting with '-' is written ${flag}=VALUE)`;
  }
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag !== undefined) return `unknown option "${flag}"`;
  return e.message.split('\n', 1)[0]!.replace(/\. To specify a positional.*$/s, '');
}

const HELP_FLAG: FlagSpec = { type: 'boolean', description: 'show this help' };

export function helpText(command: Command): string {
  const rows = Object.entries({ ...command.flags, help: HELP_FLAG }).map(([name, s]) => {
    const left = `  --${name}${s.type === 'string' ? ` ${s.placeholder ?? 'VALUE'}` : ''}`;
    const def = s.default !== undefined ? ` (default: ${s.default})` : '';
    return `${left.padEnd(30)} ${s.description}${def}`;
  });
  return [
    `fedmq ${command.name}: ${command.summary}`,
    '',
    'Options:',
    ...rows,
    '',
    'Examples:',
    ...command.examples.map((e) => `  ${e}`),
    '',
  ].join('\n');
}

export function str(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

/** A decimal number as people write one: no hex, binary, blanks or digit separators (which `Number` would take). */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A numeric flag, or undefined when absent; a non-number is a UsageError. */
export function num(flags: Flags, name: string): number | undefined {
  const v = str(flags, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!DECIMAL.test(v) || !Number.isFinite(n)) throw new UsageError(`--${name} expects a number, got "${v}"`);
  return n;
}

/** Seconds on the command line, milliseconds in the library. */
export function seconds(flags: Flags, name: string): number | undefined {
  const s = num(flags, name);
  return s === undefined ? undefined : Math.round(s * 1000);
}

/** What is wrong with a flag's value, said after the flag's name (`--port expects ...`), or undefined when it is good. */
type Check = (value: string) => string | undefined;

const integerIn = (min: number, max: number): Check => (v) => {
  const n = Number(v);
  return DECIMAL.test(v) && Number.isInteger(n) && n >= min && n <= max ? undefined : `expects an integer in [${min}, ${max}], got "${v}"`;
};

const secondsIn = (min: number, { exclusive = false, max = Infinity } = {}): Check => (v) => {
  const n = Number(v);
  const ok = DECIMAL.test(v) && Number.isFinite(n) && (exclusive ? n > min : n >= min) && n <= max;
  const range = `${exclusive ? '(' : '['}${min}, ${max === Infinity ? 'inf)' : `${max}]`}`;
  return ok ? undefined : `expects seconds in ${range}, got "${v}"`;
};

const oneOf = (values: readonly string[]): Check => (v) => (values.includes(v) ? undefined : `must be ${values.join(' | ')}, got "${v}"`);

/** Longest timer Node keeps (2^31 - 1 ms); a longer one fires after 1 ms. */
const MAX_TIMER_S = Math.floor((2 ** 31 - 1) / 1000);

/** URL schemes mqtt.js connects with that fedmq documents: TCP, TLS and WebSocket. */
export const BROKER_SCHEMES = ['mqtt', 'mqtts', 'tcp', 'tls', 'ssl', 'ws', 'wss'] as const;

function brokerUrl(v: string): string | undefined {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return `expects a URL such as mqtt://127.0.0.1:1883, got "${v}"`;
  }
  const scheme = url.protocol.slice(0, -1);
  if (!(BROKER_SCHEMES as readonly string[]).includes(scheme)) return `expects ${BROKER_SCHEMES.join(':// | ')}:// URL, got "${v}"`;
  if (url.hostname === '') return `has no host: "${v}"`;
  return undefined;
}

function listenSpec(v: string): string | undefined {
  try {
    parseListen(v, 'localhost');
    return undefined;
  } catch (e) {
    return (e as Error).message.replace(/^--metrics-port /, '');
  }
}

/** `PORT`, `HOST:PORT` or `[IPv6]:PORT`; the host defaults to `defaultHost`. */
export function parseListen(spec: string, defaultHost: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]:|([^:]+):)?(\d+)$/.exec(spec.trim());
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port > 65_535) throw new UsageError(`--metrics-port expects PORT or HOST:PORT (port 0-65535), got "${spec}"`);
  return { host: m[1] ?? m[2] ?? defaultHost, port };
}

function stat(file: string): Stats | NodeJS.ErrnoException {
  try {
    return statSync(file);
  } catch (e) {
    return e as NodeJS.ErrnoException;
  }
}

function writable(file: string, mode = constants.W_OK): boolean {
  try {
    accessSync(file, mode);
    return true;
  } catch {
    return false;
  }
}

/** A file written at the end of a run (a report): its folder must exist and take it, so the run's result is not lost then. */
export function writableFile(v: string): string | undefined {
  const file = path.resolve(v);
  const dir = path.dirname(file);
  const d = stat(dir);
  if (d instanceof Error) return `"${v}": folder ${dir} ${d.code === 'ENOTDIR' ? 'is under a file' : 'does not exist'}`;
  if (!d.isDirectory()) return `"${v}": ${dir} is not a folder`;
  if (!writable(dir, constants.W_OK | constants.X_OK)) return `"${v}": folder ${dir} is not writable`;
  const f = stat(file);
  if (f instanceof Error) return undefined;
  if (f.isDirectory()) return `"${v}" is a folder`;
  return writable(file) ? undefined : `"${v}" is not writable`;
}

/** A file kept up to date during a run (a checkpoint): created with its folders, or read and replaced when it exists. */
function checkpointFile(v: string): string | undefined {
  const file = path.resolve(v);
  const f = stat(file);
  if (!(f instanceof Error)) {
    if (!f.isFile()) return `"${v}" is not a file`;
    return writable(file, constants.R_OK | constants.W_OK) ? undefined : `"${v}" is not readable and writable`;
  }
  // The nearest existing folder above it must take the new folders and file.
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const d = stat(dir);
    if (!(d instanceof Error)) {
      if (!d.isDirectory()) return `"${v}": ${dir} is a file, not a folder`;
      return writable(dir, constants.W_OK | constants.X_OK) ? undefined : `"${v}": folder ${dir} is not writable`;
    }
    if (dir === path.dirname(dir)) return `"${v}": no folder above it exists`;
  }
}

/**
 * Checks of flags that mean the same in every command that has them, run as the flags are
 * parsed: a bad value stops the command before it connects, loads data or trains. Options the
 * library validates (rounds, epochs, codec...) are refused by its parsers, also at start.
 */
export const FLAG_CHECKS: Readonly<Record<string, Check>> = {
  broker: brokerUrl,
  port: integerIn(0, 65_535),
  'ws-port': integerIn(0, 65_535),
  web: integerIn(0, 65_535),
  'metrics-port': listenSpec,
  'stats-interval': secondsIn(0, { max: MAX_TIMER_S }),
  'round-timeout': secondsIn(0, { exclusive: true }),
  'wait-devices': secondsIn(0),
  seed: integerIn(0, 0xffff_ffff),
  follow: oneOf(FOLLOW_MODES),
  report: writableFile,
  checkpoint: checkpointFile,
};
