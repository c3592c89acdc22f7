import { OptionsError, type Resources } from '../protocol/index.js';

/** `idle`: the one-minute load average per CPU is below this. */
export const IDLE_LOAD = 0.5;

type Comparison = '<' | '<=' | '>' | '>=';
type Quantity = 'cpu-temp' | 'battery' | 'mem' | 'load';

const QUANTITIES: Record<Quantity, { field: 'cpuTempC' | 'batteryPercent' | 'freeMemMb' | 'load'; unit: string; min: number; max: number; unknown: string }> = {
  'cpu-temp': { field: 'cpuTempC', unit: ' C', min: -100, max: 250, unknown: 'this device reports no CPU temperature' },
  battery: { field: 'batteryPercent', unit: '%', min: 0, max: 100, unknown: 'this device reports no battery' },
  mem: { field: 'freeMemMb', unit: ' MB', min: 0, max: 1e9, unknown: 'this device reports no free memory' },
  load: { field: 'load', unit: ' per CPU', min: 0, max: 1e6, unknown: 'this device reports no load average' },
};

/** One rule of a policy: its text, and what it says of the resources read now. */
export interface PolicyRule {
  readonly text: string;
  /** Null when the rule holds (or cannot be checked: `unchecked`), else why not (`on battery (30%)`, `74.5 C`). */
  fails(r: Resources): string | null;
  /** Why the rule cannot be checked with `r`, or null when it can. */
  unchecked(r: Resources): string | null;
}

/**
 * When the device may train: every rule must hold. A rule that reads what this device does not
 * report (no battery, no thermal zone) holds: a device with no battery runs on mains, and one
 * that cannot say its temperature is not kept from training by it (`unchecked` says which).
 */
export interface TrainPolicy {
  readonly text: string;
  readonly rules: readonly PolicyRule[];
  /** Null when the device may train now, else the failing rules with what was read: `charging: on battery (30%)`. */
  check(r: Resources): string | null;
  /** The rules `r` cannot check, each with why. */
  unchecked(r: Resources): string[];
}

export const TRAIN_WHEN_USAGE =
  `comma-separated rules, all must hold: charging (on mains or charging), idle (1-min load per CPU < ${IDLE_LOAD}), ` +
  'cpu-temp<C, battery>PERCENT, mem>MB (available), load<PER_CPU; with <, <=, > or >=';

/**
 * Parses `--train-when` (`charging,idle,cpu-temp<70,battery>30,mem>200`) once, at start-up;
 * `OptionsError` (option `train-when`) in one line for a rule it does not know or a bad number.
 */
export function parseTrainPolicy(spec: string): TrainPolicy {
  const parts = spec.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) throw new OptionsError('train-when', `an empty rule in "${spec}"; ${TRAIN_WHEN_USAGE}`);
  const rules = parts.map(parseRule);
  const seen = new Set<string>();
  for (const rule of rules) {
    if (seen.has(rule.text)) throw new OptionsError('train-when', `"${rule.text}" is given twice`);
    seen.add(rule.text);
  }
  return {
    text: rules.map((r) => r.text).join(','),
    rules,
    check(r) {
      const failed = rules.flatMap((rule) => {
        const why = rule.fails(r);
        return why === null ? [] : [`${rule.text}: ${why}`];
      });
      return failed.length === 0 ? null : failed.join('; ');
    },
    unchecked(r) {
      return rules.flatMap((rule) => {
        const why = rule.unchecked(r);
        return why === null ? [] : [`${rule.text}: ${why}`];
      });
    },
  };
}

function parseRule(text: string): PolicyRule {
  if (text === 'charging') {
    return {
      text,
      fails: (r) => (r.onAc === false ? `on battery${r.batteryPercent === undefined ? '' : ` (${r.batteryPercent}%)`}` : null),
      unchecked: (r) => (r.onAc === undefined ? 'this device reports no power supply (taken as mains)' : null),
    };
  }
  if (text === 'idle') return compare('idle', 'load', '<', IDLE_LOAD);
  const m = /^([a-z-]+)\s*(<=|>=|<|>)\s*(\S+)$/.exec(text);
  if (!m) throw new OptionsError('train-when', `unknown rule "${text}"; ${TRAIN_WHEN_USAGE}`);
  const name = m[1] as Quantity;
  if (!Object.hasOwn(QUANTITIES, name)) throw new OptionsError('train-when', `unknown quantity "${m[1]}" in "${text}"; ${TRAIN_WHEN_USAGE}`);
  const q = QUANTITIES[name];
  const value = /^[+-]?(\d+\.?\d*|\.\d+)$/.test(m[3]!) ? Number(m[3]) : NaN;
  if (!Number.isFinite(value) || value < q.min || value > q.max) throw new OptionsError('train-when', `"${text}": the ${name} must be a number in [${q.min}, ${q.max}], got "${m[3]}"`);
  return compare(`${name}${m[2]}${m[3]}`, name, m[2] as Comparison, value);
}

function compare(text: string, name: Quantity, op: Comparison, limit: number): PolicyRule {
  const q = QUANTITIES[name];
  const holds = (v: number): boolean => (op === '<' ? v < limit : op === '<=' ? v <= limit : op === '>' ? v > limit : v >= limit);
  return {
    text,
    fails: (r) => {
      const v = r[q.field];
      return v === undefined || holds(v) ? null : `${v}${q.unit}`;
    },
    unchecked: (r) => (r[q.field] === undefined ? q.unknown : null),
  };
}
