import { OptionsError } from '../protocol/errors.js';

/** What a device learns to predict from its label column. */
export type TargetKind = 'classification' | 'regression';
/** Format of a data file; `auto` decides by extension (`.csv`, `.ndjson`, `.jsonl`). */
export type DataFormat = 'auto' | 'csv' | 'ndjson';
/**
 * How the held-out share is drawn: `example` picks a seeded random share of the examples
 * (rows without windows, windows with them); `tail` keeps the last share of every sequence in
 * time and drops the windows that straddle the cut, so no reading is both trained and tested.
 */
export type HoldoutBy = 'example' | 'tail';

/**
 * How a device reads its own data (CSV with a header, NDJSON objects, or a directory of such
 * files) into examples. Numbers are read as written: nothing is rescaled.
 */
export interface DeviceDataOptions {
  /** Column holding each reading's target. @default 'label' */
  label?: string;
  /**
   * Feature columns, in this order (a list, or one comma-separated string as the CLI gives it).
   * @default every column except `label`, `groupBy`, `time` and `ignore`, in the first file's order
   */
  features?: readonly string[] | string;
  /** Columns never used as features when `features` is not given. @default [] */
  ignore?: readonly string[] | string;
  /** Classification (labels become class indices) or regression (labels are numbers). @default 'classification' */
  target?: TargetKind;
  /**
   * Class names in index order: label `classes[i]` becomes class `i`, any other label is refused.
   * Give them whenever devices may not all see every class, so every device numbers them alike.
   * @default integer labels 0..k are their own index; other labels are sorted (UTF-16 code units)
   */
  classes?: readonly string[] | string;
  /**
   * Column naming the device or user a reading comes from. Windows never cross its values, and
   * `splitByGroup` (the `by:COLUMN` partition) gives each value its own device.
   * @default none: one sequence per file
   */
  groupBy?: string;
  /** Column with the reading's time (a number or an ISO 8601 date); it must not decrease within a sequence. @default none */
  time?: string;
  /** Readings per example; above 1, each example is a `[window, features]` sequence. @default 1 */
  window?: number | string;
  /** Readings between the starts of consecutive windows. @default 1 */
  stride?: number | string;
  /** CSV field separator, one character. @default ',' */
  delimiter?: string;
  /** File format. @default 'auto' */
  format?: DataFormat;
  /** Share of the examples held out for federated evaluation, in [0, 1). @default 0.2 */
  holdout?: number | string;
  /** How the held-out share is drawn. @default 'example' */
  holdoutBy?: HoldoutBy;
  /** Seed of the held-out draw (an integer). @default 0 */
  seed?: number | string;
}

/** `DeviceDataOptions` resolved and checked: what the loader and the split read. */
export interface DeviceDataConfig {
  readonly label: string;
  /** `null`: every column but the excluded ones. */
  readonly features: readonly string[] | null;
  readonly ignore: readonly string[];
  readonly target: TargetKind;
  /** `null`: derived from the labels (see `DeviceDataOptions.classes`). */
  readonly classes: readonly string[] | null;
  readonly groupBy: string | null;
  readonly time: string | null;
  readonly window: number;
  readonly stride: number;
  readonly delimiter: string;
  readonly format: DataFormat;
  readonly holdout: number;
  readonly holdoutBy: HoldoutBy;
  readonly seed: number;
}

export const DEFAULT_LABEL_COLUMN = 'label';
export const DEFAULT_WINDOW = 1;
export const DEFAULT_STRIDE = 1;
export const DEFAULT_DELIMITER = ',';
export const DEFAULT_HOLDOUT = 0.2;
export const DEFAULT_HOLDOUT_SEED = 0;
/** More distinct labels than this is almost surely a numeric column read as classes. */
export const MAX_CLASSES = 4096;
/** Longest window accepted, so a typo cannot ask for gigabytes per example. */
export const MAX_WINDOW = 65_536;

export function defaultDeviceDataOptions(): Required<Omit<DeviceDataOptions, 'features' | 'classes' | 'groupBy' | 'time'>> {
  return {
    label: DEFAULT_LABEL_COLUMN,
    ignore: [],
    target: 'classification',
    window: DEFAULT_WINDOW,
    stride: DEFAULT_STRIDE,
    delimiter: DEFAULT_DELIMITER,
    format: 'auto',
    holdout: DEFAULT_HOLDOUT,
    holdoutBy: 'example',
    seed: DEFAULT_HOLDOUT_SEED,
  };
}

const TARGETS: readonly TargetKind[] = ['classification', 'regression'];
const FORMATS: readonly DataFormat[] = ['auto', 'csv', 'ndjson'];
const HOLDOUT_BY: readonly HoldoutBy[] = ['example', 'tail'];
const POSITIVE_INTEGER = /^[1-9]\d*$/;
const DECIMAL = /^(\d+\.?\d*|\.\d+)$/;

/** Checks every option once; throws `OptionsError` naming the option (the CLI flag's name). */
export function parseDeviceDataOptions(options: DeviceDataOptions = {}): DeviceDataConfig {
  const d = defaultDeviceDataOptions();
  const label = columnName('label', options.label ?? d.label);
  const features = options.features === undefined ? null : columnList('features', options.features);
  if (features !== null && features.length === 0) throw new OptionsError('features', 'needs at least one column');
  const ignore = columnList('ignore', options.ignore ?? d.ignore);
  const target = oneOf('target', options.target ?? d.target, TARGETS);
  const classes = options.classes === undefined ? null : columnList('classes', options.classes);
  if (classes !== null) {
    if (target === 'regression') throw new OptionsError('classes', 'a regression target has no classes');
    if (classes.length < 2) throw new OptionsError('classes', `needs at least 2 classes, got ${classes.length}`);
    if (classes.length > MAX_CLASSES) throw new OptionsError('classes', `at most ${MAX_CLASSES} classes`);
  }
  const groupBy = options.groupBy === undefined ? null : columnName('groupBy', options.groupBy);
  const time = options.time === undefined ? null : columnName('time', options.time);
  const window = positiveInteger('window', options.window ?? d.window);
  if (window > MAX_WINDOW) throw new OptionsError('window', `at most ${MAX_WINDOW} readings, got ${window}`);
  const stride = positiveInteger('stride', options.stride ?? d.stride);
  const delimiter = options.delimiter ?? d.delimiter;
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new OptionsError('delimiter', `must be one character other than a quote or a line break, got ${JSON.stringify(delimiter)}`);
  }
  const format = oneOf('format', options.format ?? d.format, FORMATS);
  const holdout = fraction('holdout', options.holdout ?? d.holdout);
  const holdoutBy = oneOf('holdoutBy', options.holdoutBy ?? d.holdoutBy, HOLDOUT_BY);
  const seed = typeof options.seed === 'string' ? (/^\d+$/.test(options.seed.trim()) ? Number(options.seed) : NaN) : (options.seed ?? DEFAULT_HOLDOUT_SEED);
  if (!Number.isSafeInteger(seed)) throw new OptionsError('seed', `must be an integer, got ${JSON.stringify(options.seed)}`);

  // A column has one role: the label, the group and the time are never features.
  const roles = new Map<string, string>([[label, 'label']]);
  for (const [role, column] of [['groupBy', groupBy], ['time', time]] as const) {
    if (column === null) continue;
    const other = roles.get(column);
    if (other !== undefined) throw new OptionsError(role, `column '${column}' is already the ${other} column`);
    roles.set(column, role);
  }
  for (const column of features ?? []) {
    const other = roles.get(column);
    if (other !== undefined) throw new OptionsError('features', `column '${column}' is the ${other} column, it cannot also be a feature`);
  }
  unique('features', features ?? []);
  unique('classes', classes ?? []);
  return { label, features, ignore, target, classes, groupBy, time, window, stride, delimiter, format, holdout, holdoutBy, seed };
}

function columnName(option: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw new OptionsError(option, `must name a column, got ${JSON.stringify(value)}`);
  return value.trim();
}

function columnList(option: string, value: readonly string[] | string): string[] {
  const items = typeof value === 'string' ? value.split(',') : [...value];
  return items.map((item) => columnName(option, item));
}

function unique(option: string, names: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw new OptionsError(option, `'${name}' is listed twice`);
    seen.add(name);
  }
}

function oneOf<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new OptionsError(option, `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function positiveInteger(option: string, value: number | string): number {
  const n = typeof value === 'string' ? (POSITIVE_INTEGER.test(value.trim()) ? Number(value) : NaN) : value;
  if (!Number.isSafeInteger(n) || n < 1) throw new OptionsError(option, `must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

function fraction(option: string, value: number | string): number {
  const n = typeof value === 'string' ? (DECIMAL.test(value.trim()) ? Number(value) : NaN) : value;
  if (!(n >= 0 && n < 1)) throw new OptionsError(option, `must be a fraction in [0, 1), got ${JSON.stringify(value)}`);
  return n;
}

/** `DeviceDataConfig` back to option strings, as a report records it; `parseDeviceDataOptions` reads it back to the same config. */
export type DeviceDataSpecs = { [K in keyof DeviceDataConfig]: (DeviceDataConfig[K] extends string ? DeviceDataConfig[K] : string) | undefined };

/** Every option as a string (`features`, `classes`, `ignore` comma-joined); derived or absent ones (`features: null`) are undefined. */
export function deviceDataSpecs(config: DeviceDataConfig): DeviceDataSpecs {
  const list = (names: readonly string[] | null): string | undefined => (names === null || names.length === 0 ? undefined : names.join(','));
  return {
    label: config.label,
    features: list(config.features),
    ignore: list(config.ignore),
    target: config.target,
    classes: list(config.classes),
    groupBy: config.groupBy ?? undefined,
    time: config.time ?? undefined,
    window: String(config.window),
    stride: String(config.stride),
    delimiter: config.delimiter,
    format: config.format,
    holdout: String(config.holdout),
    holdoutBy: config.holdoutBy,
    seed: String(config.seed),
  };
}
