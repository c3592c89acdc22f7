import { parseArgs } from 'node:util';

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

export function parseFlags(argv: string[], specs: FlagSpecs): Flags {
  const options = Object.fromEntries(Object.entries({ ...specs, help: HELP_FLAG }).map(([k, s]) => [k, { type: s.type }]));
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    return values as Flags;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError((e as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
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

/** A numeric flag, or undefined when absent; a non-number is a UsageError. */
export function num(flags: Flags, name: string): number | undefined {
  const v = str(flags, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} expects a number, got "${v}"`);
  return n;
}

/** Seconds on the command line, milliseconds in the library. */
export function seconds(flags: Flags, name: string): number | undefined {
  const s = num(flags, name);
  return s === undefined ? undefined : Math.round(s * 1000);
}
