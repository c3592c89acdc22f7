import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Dataset } from './dataset.js';
import { MAX_CLASSES, type DeviceDataConfig } from './deviceDataOptions.js';
import { DataFileError, DataRowError } from './errors.js';
import { isCanonicalInteger, parseStrictNumber, parseTime, sortIds, splitCsvLine } from './fields.js';

/** What a device's label column means, as read. */
export type DeviceTarget =
  /** Label `classes[i]` is class `i`. */
  | { kind: 'classification'; classes: readonly string[] }
  | { kind: 'regression' };

/** A contiguous run of readings in time order (one group of one file); windows never leave it. */
export interface Sequence {
  /** Index into `DeviceData.groups`; 0 when there is no group column. */
  group: number;
  file: string;
  /** Readings `start .. end-1`. */
  start: number;
  end: number;
}

/**
 * A device's examples. Readings are stored once, as written (no rescaling), grouped by
 * `groups` order, then file, then line; an example is `window` consecutive readings of one
 * sequence, so overlapping windows cost 4 bytes each, not a copy.
 */
export interface DeviceData {
  /** Row-major `readingCount * featureNames.length` feature values. */
  readings: Float32Array;
  readingCount: number;
  featureNames: readonly string[];
  /** Each reading's target: a class index or a regression value. */
  readingTargets: Float32Array;
  /** Readings per example; 1 means no windows. */
  window: number;
  /** Readings between the starts of consecutive windows of a sequence. */
  stride: number;
  /** Example `i` is readings `starts[i] .. starts[i] + window - 1`; ascending. */
  starts: Uint32Array;
  /** Each example's target: its last reading's. */
  targets: Float32Array;
  count: number;
  /** One example's shape: `[features]`, or `[window, features]` when `window > 1`. */
  shape: readonly number[];
  target: DeviceTarget;
  /** Values of the group column in device-id order (`sortIds`); `[]` without one. */
  groups: readonly string[];
  sequences: readonly Sequence[];
}

const DATA_EXTENSIONS = /\.(csv|ndjson|jsonl)$/i;
const INITIAL_ROWS = 1024;

/**
 * Reads a device's data from a file or a directory of files (read in name order, hidden files
 * and other extensions skipped). Lines are streamed: memory holds the parsed values (4 bytes
 * each), never the text. Throws `DataFileError` for a file at fault, `DataRowError` naming file,
 * line and column for a bad field.
 */
export async function loadDeviceData(path: string, config: DeviceDataConfig): Promise<DeviceData> {
  const files = await dataFiles(path, config);
  const builder = new Builder(config);
  for (const file of files) {
    const format = config.format !== 'auto' ? config.format : formatOf(file);
    await readFile(file, format, builder);
  }
  return builder.finish(path);
}

async function dataFiles(path: string, config: DeviceDataConfig): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch (cause) {
    throw new DataFileError(path, null, `cannot open: ${(cause as Error).message}`, { cause });
  }
  if (!info.isDirectory()) return [path];
  const names = (await readdir(path))
    .filter((name) => !name.startsWith('.') && (config.format !== 'auto' || DATA_EXTENSIONS.test(name)))
    .sort();
  if (names.length === 0) throw new DataFileError(path, null, 'the directory holds no .csv, .ndjson or .jsonl file');
  return names.map((name) => join(path, name));
}

function formatOf(file: string): 'csv' | 'ndjson' | null {
  const lower = file.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.ndjson') || lower.endsWith('.jsonl')) return 'ndjson';
  return null;
}

async function readFile(file: string, known: 'csv' | 'ndjson' | null, builder: Builder): Promise<void> {
  const stream = createReadStream(file, { encoding: 'utf8' });
  try {
    await once(stream, 'ready');
  } catch (cause) {
    throw new DataFileError(file, null, `cannot open: ${(cause as Error).message}`, { cause });
  }
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let format = known;
  let line = 0;
  let csv: CsvColumns | null = null;
  builder.startFile(file);
  try {
    for await (const raw of lines) {
      line++;
      const text = line === 1 ? raw.replace(/^\uFEFF/, '') : raw;
      if (text.trim() === '') continue;
      format ??= text.trimStart().startsWith('{') ? 'ndjson' : 'csv';
      if (format === 'ndjson') {
        builder.addNdjson(text, line);
      } else if (csv === null) {
        csv = builder.csvHeader(text, line);
      } else {
        builder.addCsv(csv, text, line);
      }
    }
  } catch (cause) {
    if (cause instanceof DataFileError) throw cause;
    throw new DataFileError(file, line || null, `cannot read: ${(cause as Error).message}`, { cause });
  } finally {
    lines.close();
    stream.destroy();
  }
  if (format === 'csv' && csv === null) throw new DataFileError(file, null, 'empty file: a CSV file needs a header line');
}

/** Where each selected column sits in this file's CSV rows. */
interface CsvColumns {
  header: readonly string[];
  label: number;
  features: readonly number[];
  group: number;
  time: number;
}

/** Collects readings into growing typed arrays and resolves labels, groups and windows at the end. */
class Builder {
  private features: readonly string[] | null;
  private values = new Float32Array(0);
  private labels = new Float32Array(0);
  private groupOf = new Uint32Array(0);
  private fileOf = new Uint32Array(0);
  private rows = 0;
  private readonly labelIds = new Map<string, number>();
  private readonly groupIds = new Map<string, number>();
  private readonly lastTime = new Map<number, { time: number; line: number }>();
  private readonly files: string[] = [];
  private file = '';
  /** The line being read, for the messages of `number()`. */
  private line = 0;

  constructor(private readonly config: DeviceDataConfig) {
    this.features = config.features;
    if (config.classes !== null) config.classes.forEach((name, i) => this.labelIds.set(name, i));
  }

  startFile(file: string): void {
    this.file = file;
    this.files.push(file);
    this.lastTime.clear();
  }

  csvHeader(text: string, line: number): CsvColumns {
    const header = splitCsvLine(text, this.config.delimiter);
    if (typeof header === 'string') throw new DataFileError(this.file, line, `header: ${header}`);
    const names = header.map((name) => name.trim());
    const at = new Map<string, number>();
    names.forEach((name, i) => {
      if (name === '') throw new DataFileError(this.file, line, `header: column ${i + 1} has no name`);
      if (at.has(name)) throw new DataFileError(this.file, line, `header: column '${name}' appears twice`);
      at.set(name, i);
    });
    const { label, groupBy, time } = this.config;
    if (!at.has(label) && isCanonicalInteger(names[0] ?? '')) {
      throw new DataFileError(this.file, line, `the first line has no column '${label}': a header line naming the columns is required`);
    }
    const features = this.resolveFeatures(names);
    const find = (name: string, role: string): number => {
      const i = at.get(name);
      if (i === undefined) throw new DataFileError(this.file, line, `header: no ${role} column '${name}' (columns: ${names.join(', ')})`);
      return i;
    };
    return {
      header: names,
      label: find(label, 'label'),
      features: features.map((name) => find(name, 'feature')),
      group: groupBy === null ? -1 : find(groupBy, 'group'),
      time: time === null ? -1 : find(time, 'time'),
    };
  }

  addCsv(columns: CsvColumns, text: string, line: number): void {
    const fields = splitCsvLine(text, this.config.delimiter);
    if (typeof fields === 'string') throw new DataFileError(this.file, line, fields);
    if (fields.length !== columns.header.length) {
      throw new DataFileError(this.file, line, `${fields.length} fields, but the header has ${columns.header.length}`);
    }
    const field = (i: number): [string, string, number] => [fields[i] as string, columns.header[i] as string, i + 1];
    this.line = line;
    const row = this.beginRow();
    const offset = row * columns.features.length;
    const { features, header } = columns;
    for (let k = 0; k < features.length; k++) {
      const i = features[k] as number;
      this.values[offset + k] = this.number(fields[i] as string, header[i] as string, i + 1, 'a feature');
    }
    this.endRow(row, line, field(columns.label), columns.group < 0 ? null : field(columns.group), columns.time < 0 ? null : field(columns.time));
  }

  addNdjson(text: string, line: number): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      throw new DataFileError(this.file, line, `invalid JSON: ${(cause as Error).message}`, { cause });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new DataFileError(this.file, line, 'expected an object with named fields, like {"temperature": 21.5, "label": "idle"}');
    }
    const record = parsed as Record<string, unknown>;
    const features = this.resolveFeatures(Object.keys(record));
    const field = (name: string): [string, string, null] => {
      const value = record[name];
      if (value === undefined || value === null) throw new DataRowError(this.file, line, name, null, 'missing');
      if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return [String(value), name, null];
      throw new DataRowError(this.file, line, name, null, `${JSON.stringify(value)} is not a number or a string`);
    };
    this.line = line;
    const row = this.beginRow();
    const offset = row * features.length;
    features.forEach((name, k) => {
      this.values[offset + k] = this.number(...field(name), 'a feature');
    });
    const { label, groupBy, time } = this.config;
    this.endRow(row, line, field(label), groupBy === null ? null : field(groupBy), time === null ? null : field(time));
  }

  finish(path: string): DeviceData {
    const { config } = this;
    if (this.rows === 0) throw new DataFileError(path, null, 'no readings (empty files or headers only)');
    const featureCount = (this.features as readonly string[]).length;
    const target = this.resolveTarget(path);
    const classIndex = target.kind === 'classification' ? this.classIndex(target.classes) : null;

    // Device-id order of the groups, then a stable counting sort of the readings by (group, file).
    const groupNames = [...this.groupIds.keys()];
    const groups = config.groupBy === null ? [] : sortIds(groupNames);
    const rank = new Uint32Array(Math.max(1, groupNames.length));
    groups.forEach((name, r) => (rank[this.groupIds.get(name) as number] = r));
    const files = this.files.length;
    const keys = Math.max(1, groups.length) * files;
    const starts = new Uint32Array(keys + 1);
    const keyOf = (row: number): number => (rank[this.groupOf[row] as number] as number) * files + (this.fileOf[row] as number);
    for (let row = 0; row < this.rows; row++) {
      const k = keyOf(row) + 1;
      starts[k] = (starts[k] as number) + 1;
    }
    for (let k = 1; k <= keys; k++) starts[k] = (starts[k] as number) + (starts[k - 1] as number);
    const next = starts.slice(0, keys);
    const readings = new Float32Array(this.rows * featureCount);
    const readingTargets = new Float32Array(this.rows);
    for (let row = 0; row < this.rows; row++) {
      const key = keyOf(row);
      const at = next[key] as number;
      next[key] = at + 1;
      readings.set(this.values.subarray(row * featureCount, (row + 1) * featureCount), at * featureCount);
      const label = this.labels[row] as number;
      readingTargets[at] = classIndex === null ? label : (classIndex[label] as number);
    }

    const sequences: Sequence[] = [];
    for (let k = 0; k < keys; k++) {
      const start = starts[k] as number;
      const end = starts[k + 1] as number;
      if (end > start) sequences.push({ group: Math.floor(k / files), file: this.files[k % files] as string, start, end });
    }
    return withExamples({
      readings,
      readingCount: this.rows,
      featureNames: this.features as readonly string[],
      readingTargets,
      target,
      groups,
      sequences,
    }, config.window, config.stride, path);
  }

  private resolveFeatures(columns: readonly string[]): readonly string[] {
    if (this.features === null) {
      const { label, groupBy, time, ignore } = this.config;
      const excluded = new Set([label, groupBy, time, ...ignore]);
      const features = columns.filter((name) => !excluded.has(name));
      if (features.length === 0) throw new DataFileError(this.file, null, `no feature columns: every column is the label, group, time or ignored`);
      this.features = features;
    }
    return this.features;
  }

  private beginRow(): number {
    if (this.rows === this.labels.length) this.grow();
    return this.rows;
  }

  private endRow(
    row: number,
    line: number,
    label: [string, string, number | null],
    group: [string, string, number | null] | null,
    time: [string, string, number | null] | null,
  ): void {
    this.labels[row] = this.label(line, label);
    let groupId = 0;
    if (group !== null) {
      const name = group[0].trim();
      if (name === '') throw new DataRowError(this.file, line, group[1], group[2], 'empty: every reading needs a device id');
      groupId = this.groupIds.get(name) ?? this.groupIds.size;
      if (groupId === this.groupIds.size) this.groupIds.set(name, groupId);
    }
    if (time !== null) {
      const value = parseTime(time[0]);
      if (!Number.isFinite(value)) {
        throw new DataRowError(this.file, line, time[1], time[2], `${JSON.stringify(time[0])} is not a number or an ISO 8601 date`);
      }
      const last = this.lastTime.get(groupId);
      if (last !== undefined && value < last.time) {
        throw new DataRowError(this.file, line, time[1], time[2], `${time[0].trim()} is earlier than line ${last.line}: readings must be in time order`);
      }
      this.lastTime.set(groupId, { time: value, line });
    }
    this.groupOf[row] = groupId;
    this.fileOf[row] = this.files.length - 1;
    this.rows++;
  }

  private number(text: string, column: string, columnNumber: number | null, what: string): number {
    const value = Math.fround(parseStrictNumber(text));
    if (!Number.isFinite(value)) {
      throw new DataRowError(this.file, this.line, column, columnNumber, `${JSON.stringify(text)} is not a number (${what} must be a finite decimal number)`);
    }
    return value;
  }

  private label(line: number, [text, column, columnNumber]: [string, string, number | null]): number {
    const name = text.trim();
    if (this.config.target === 'regression') {
      const value = Math.fround(parseStrictNumber(name));
      if (!Number.isFinite(value)) throw new DataRowError(this.file, line, column, columnNumber, `${JSON.stringify(text)} is not a number (a regression target)`);
      return value;
    }
    if (name === '') throw new DataRowError(this.file, line, column, columnNumber, 'empty label');
    const known = this.labelIds.get(name);
    if (known !== undefined) return known;
    if (this.config.classes !== null) {
      throw new DataRowError(this.file, line, column, columnNumber, `label ${JSON.stringify(name)} is not one of the classes ${this.config.classes.join(', ')}`);
    }
    if (this.labelIds.size >= MAX_CLASSES) {
      throw new DataRowError(this.file, line, column, columnNumber, `more than ${MAX_CLASSES} distinct labels: is this a regression target?`);
    }
    this.labelIds.set(name, this.labelIds.size);
    return this.labelIds.size - 1;
  }

  private resolveTarget(path: string): DeviceTarget {
    const { config } = this;
    if (config.target === 'regression') return { kind: 'regression' };
    if (config.classes !== null) return { kind: 'classification', classes: config.classes };
    const names = [...this.labelIds.keys()];
    if (names.every(isCanonicalInteger)) {
      const max = Math.max(...names.map(Number));
      if (max >= MAX_CLASSES) throw new DataFileError(path, null, `label ${max} is not below ${MAX_CLASSES} classes; is this a regression target?`);
      return { kind: 'classification', classes: Array.from({ length: max + 1 }, (_, i) => String(i)) };
    }
    return { kind: 'classification', classes: names.sort() };
  }

  /** Maps the first-seen label ids to class indices. */
  private classIndex(classes: readonly string[]): Uint32Array {
    const index = new Map(classes.map((name, i) => [name, i]));
    const out = new Uint32Array(this.labelIds.size);
    for (const [name, id] of this.labelIds) out[id] = index.get(name) as number;
    return out;
  }

  private grow(): void {
    const rows = Math.max(INITIAL_ROWS, this.labels.length * 2);
    const featureCount = (this.features as readonly string[]).length;
    const values = new Float32Array(rows * featureCount);
    values.set(this.values);
    this.values = values;
    this.labels = growTo(this.labels, new Float32Array(rows));
    this.groupOf = growTo(this.groupOf, new Uint32Array(rows));
    this.fileOf = growTo(this.fileOf, new Uint32Array(rows));
  }
}

function growTo<T extends Float32Array | Uint32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/** A device's readings before they are cut into examples. */
export type Readings = Omit<DeviceData, 'window' | 'stride' | 'starts' | 'targets' | 'count' | 'shape'>;

/** Cuts every sequence into windows of `window` readings, `stride` apart; a sequence shorter than `window` gives none. */
export function withExamples(data: Readings, window: number, stride: number, path = 'data'): DeviceData {
  let count = 0;
  for (const { start, end } of data.sequences) if (end - start >= window) count += Math.floor((end - start - window) / stride) + 1;
  if (count === 0) {
    throw new DataFileError(path, null, `${data.readingCount} readings, but no sequence has the ${window} consecutive readings a window needs`);
  }
  const starts = new Uint32Array(count);
  const targets = new Float32Array(count);
  let k = 0;
  for (const { start, end } of data.sequences) {
    for (let s = start; s + window <= end; s += stride) {
      starts[k] = s;
      targets[k] = data.readingTargets[s + window - 1] as number;
      k++;
    }
  }
  const features = data.featureNames.length;
  return { ...data, window, stride, starts, targets, count, shape: window === 1 ? [features] : [window, features] };
}

/**
 * The examples at `indices` (distinct, any order) as a `DeviceData` of their own, sharing the
 * readings (nothing is copied but starts and targets): one device's share when a seeded
 * partition splits a dataset's examples. Sequences stay whole, so a `tail` split still cuts by time.
 */
export function pickExamples(data: DeviceData, indices: ArrayLike<number>): DeviceData {
  if (indices.length === 0) throw new RangeError('pickExamples: no examples chosen');
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k] as number;
    if (!Number.isInteger(i) || i < 0 || i >= data.count) throw new RangeError(`pickExamples: index ${i} is outside 0..${data.count - 1}`);
  }
  const chosen = Uint32Array.from(indices).sort();
  for (let k = 1; k < chosen.length; k++) {
    if (chosen[k] === chosen[k - 1]) throw new RangeError(`pickExamples: index ${chosen[k]} is chosen twice`);
  }
  return {
    ...data,
    starts: chosen.map((i) => data.starts[i] as number),
    targets: Float32Array.from(chosen, (i) => data.targets[i] as number),
    count: chosen.length,
  };
}

/** The examples at `indices`, copied row-major into `out` (`indices.length * window * features` values). */
export function gatherExamples(data: DeviceData, indices: ArrayLike<number>, out?: Float32Array): Float32Array {
  const size = data.window * data.featureNames.length;
  const x = out ?? new Float32Array(indices.length * size);
  if (x.length < indices.length * size) throw new RangeError(`gatherExamples: out holds ${x.length} values, ${indices.length * size} needed`);
  const features = data.featureNames.length;
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k] as number;
    if (!Number.isInteger(i) || i < 0 || i >= data.count) throw new RangeError(`gatherExamples: index ${i} is outside 0..${data.count - 1}`);
    const s = data.starts[i] as number;
    x.set(data.readings.subarray(s * features, s * features + size), k * size);
  }
  return x;
}

/**
 * The examples at `indices` (default all) as the `Dataset` today's training code takes: each
 * window flattened to `window * features` values, labels as bytes. Classification with at most
 * 256 classes only.
 */
export function toDataset(data: DeviceData, indices?: ArrayLike<number>): Dataset {
  if (data.target.kind !== 'classification') throw new RangeError('toDataset: a Dataset holds class labels; this data has a regression target');
  const numClasses = data.target.classes.length;
  if (numClasses > 256) throw new RangeError(`toDataset: ${numClasses} classes do not fit a byte label`);
  const chosen = indices ?? Uint32Array.from({ length: data.count }, (_, i) => i);
  const y = new Uint8Array(chosen.length);
  for (let k = 0; k < chosen.length; k++) y[k] = data.targets[chosen[k] as number] as number;
  return { x: gatherExamples(data, chosen), y, count: chosen.length, features: data.window * data.featureNames.length, numClasses };
}
