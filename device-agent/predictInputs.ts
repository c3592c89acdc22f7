import { parseStrictNumber } from '../datasets/index.js';
import { splitCsvLine } from '../datasets/fields.js';
import { FedmqError, type Task } from '../protocol/index.js';

/** Examples to predict, flat and row-major, and for window tasks the line of the reading each window ends at. */
export interface PredictInputs {
  x: Float32Array;
  count: number;
  /** Window tasks (`[steps, features]`) read from CSV / NDJSON: the 1-based line each example's last reading is on. */
  lines?: number[];
}

export type InputFormat = 'csv' | 'ndjson' | 'json';

/** Inputs that do not fit the task: `where` is the line (or example), `problem` what is wrong. */
export class PredictInputError extends FedmqError {
  override name = 'PredictInputError';
}

/** Values in one example of `task`. */
export function exampleSize(task: Task): number {
  return task.input.shape.reduce((a, b) => a * b, 1);
}

/** The format of an input file by its name: `.csv`, `.ndjson` / `.jsonl`, `.json`; else by its first character. */
export function inputFormat(file: string, text: string): InputFormat {
  const lower = file.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.ndjson') || lower.endsWith('.jsonl')) return 'ndjson';
  if (lower.endsWith('.json')) return 'json';
  const first = text.replace(/^\uFEFF/, '').trimStart()[0];
  return first === '[' ? 'json' : first === '{' ? 'ndjson' : 'csv';
}

/**
 * Reads examples for `task` from `text`:
 * - `json`: an array of flat arrays, one per example, each of the task's input size (row-major, channels last);
 * - `csv`: a header, then one reading per row, the task's `input.features` read by name (a task
 *   without feature names takes every column, in order);
 * - `ndjson`: one object per line with the features by name (or a flat array per line, as in `json`).
 * A tabular task (`[features]`) takes one example per reading. A window task (`[steps, features]`)
 * takes every window of `steps` consecutive readings, in file order, one ending at each reading
 * from the `steps`-th on (stride 1). Every value must be a finite number.
 */
export function parsePredictInputs(text: string, task: Task, format: InputFormat): PredictInputs {
  const body = text.replace(/^\uFEFF/, '');
  if (format === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (e) {
      throw new PredictInputError(`not JSON: ${(e as Error).message}`);
    }
    if (!Array.isArray(parsed)) throw new PredictInputError('a JSON input is an array of examples, each a flat array of numbers');
    return flatExamples(parsed, task, (i) => `example ${i + 1}`);
  }
  const rows = format === 'csv' ? csvReadings(body, task) : ndjsonReadings(body, task);
  if ('examples' in rows) return rows.examples;
  return fromReadings(rows.values, rows.lines, task);
}

/** `inputs` (arrays of numbers) as examples of `task`: each of the input size, every value finite. */
export function flatExamples(inputs: unknown[], task: Task, where: (i: number) => string): PredictInputs {
  const n = exampleSize(task);
  const x = new Float32Array(inputs.length * n);
  inputs.forEach((example, i) => {
    if (!Array.isArray(example)) throw new PredictInputError(`${where(i)}: must be a flat array of ${n} numbers`);
    if (example.length !== n) throw new PredictInputError(`${where(i)}: has ${example.length} values; the task's input [${task.input.shape.join(', ')}] takes ${n}`);
    for (let j = 0; j < n; j++) {
      const v = example[j] as unknown;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new PredictInputError(`${where(i)}: value ${j + 1} must be a finite number, got ${JSON.stringify(v)?.slice(0, 32) ?? String(v)}`);
      // A finite double beyond float32 becomes Infinity: refused too.
      if (!Number.isFinite(Math.fround(v))) throw new PredictInputError(`${where(i)}: value ${j + 1} is beyond float32 (${v})`);
      x[i * n + j] = v;
    }
  });
  return { x, count: inputs.length };
}

type Readings = { values: number[][]; lines: number[] } | { examples: PredictInputs };

/** The feature names a reading is read by, or null when the task names none. */
function featureNames(task: Task): readonly string[] | null {
  if (task.input.shape.length > 2) throw new PredictInputError(`an input of shape [${task.input.shape.join(', ')}] is read from a JSON array of flat arrays, not from readings`);
  return task.input.features ?? null;
}

function csvReadings(text: string, task: Task): Readings {
  const lines = text.split(/\r?\n/);
  const headerAt = lines.findIndex((l) => l.trim() !== '');
  if (headerAt < 0) throw new PredictInputError('empty input: a CSV file needs a header line');
  const header = split(lines[headerAt]!, headerAt + 1).map((h) => h.trim());
  const names = featureNames(task);
  const width = task.input.shape[task.input.shape.length - 1]!;
  let columns: number[];
  if (names === null) {
    if (header.length !== width) throw new PredictInputError(`line ${headerAt + 1}: the task names no features, so every column is one; it takes ${width}, the header has ${header.length}`);
    columns = header.map((_, i) => i);
  } else {
    columns = names.map((name) => {
      const at = header.indexOf(name);
      if (at < 0) throw new PredictInputError(`line ${headerAt + 1}: no column "${name}" (the task's features: ${names.join(', ')})`);
      return at;
    });
  }
  const values: number[][] = [];
  const at: number[] = [];
  for (let i = headerAt + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const fields = split(line, i + 1);
    values.push(columns.map((c, k) => {
      const field = fields[c];
      const v = field === undefined ? NaN : parseStrictNumber(field);
      if (!Number.isFinite(v) || !Number.isFinite(Math.fround(v))) throw new PredictInputError(`line ${i + 1}, column "${header[c] ?? k + 1}": ${field === undefined ? 'missing' : `${JSON.stringify(field.slice(0, 32))} is not a finite number`}`);
      return v;
    }));
    at.push(i + 1);
  }
  return { values, lines: at };
}

function split(line: string, number: number): string[] {
  const fields = splitCsvLine(line, ',');
  if (typeof fields === 'string') throw new PredictInputError(`line ${number}: ${fields}`);
  return fields;
}

function ndjsonReadings(text: string, task: Task): Readings {
  const lines = text.split(/\r?\n/);
  const values: number[][] = [];
  const at: number[] = [];
  const arrays: unknown[] = [];
  const arrayLines: number[] = [];
  let names: readonly string[] | null | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch (e) {
      throw new PredictInputError(`line ${i + 1}: not JSON (${(e as Error).message})`);
    }
    if (Array.isArray(o)) {
      arrays.push(o);
      arrayLines.push(i + 1);
      continue;
    }
    if (typeof o !== 'object' || o === null) throw new PredictInputError(`line ${i + 1}: must be an object of features by name, or a flat array`);
    names ??= featureNames(task);
    if (names === null) throw new PredictInputError(`line ${i + 1}: the task names no features to read from an object; give flat arrays`);
    const record = o as Record<string, unknown>;
    values.push(names.map((name) => {
      const raw = Object.hasOwn(record, name) ? record[name] : undefined;
      const v = typeof raw === 'number' ? raw : typeof raw === 'string' ? parseStrictNumber(raw) : NaN;
      if (!Number.isFinite(v) || !Number.isFinite(Math.fround(v))) throw new PredictInputError(`line ${i + 1}, field "${name}": ${raw === undefined ? 'missing' : `${JSON.stringify(raw)?.slice(0, 32)} is not a finite number`}`);
      return v;
    }));
    at.push(i + 1);
  }
  if (arrays.length > 0 && values.length > 0) throw new PredictInputError(`line ${arrayLines[0]}: arrays and objects mixed in one input`);
  if (arrays.length > 0) return { examples: flatExamples(arrays, task, (k) => `line ${arrayLines[k]}`) };
  return { values, lines: at };
}

/** Readings (one row of the last dimension each) as examples: one per reading, or one window ending at each. */
function fromReadings(values: number[][], lines: number[], task: Task): PredictInputs {
  const shape = task.input.shape;
  const width = shape[shape.length - 1]!;
  if (shape.length === 1) {
    const x = new Float32Array(values.length * width);
    values.forEach((row, i) => x.set(row, i * width));
    return { x, count: values.length };
  }
  const steps = shape[0]!;
  const count = Math.max(0, values.length - steps + 1);
  if (count === 0 && values.length > 0) throw new PredictInputError(`the task's windows are ${steps} readings long; the input has ${values.length}`);
  const x = new Float32Array(count * steps * width);
  for (let e = 0; e < count; e++) for (let s = 0; s < steps; s++) x.set(values[e + s]!, (e * steps + s) * width);
  return { x, count, lines: lines.slice(steps - 1) };
}

/** What one example's output says, as `fedmq predict` prints it and `POST /predict` answers. */
export interface Prediction {
  output: number[];
  /** Classification: the index of the largest output. */
  class?: number;
  /** Binary: 1 when the output says "1" (a probability of 0.5 or more; a logit of 0 or more), else 0. */
  label?: number;
}

/** The outputs of `count` examples, one `Prediction` each. */
export function predictions(task: Task, outputs: Float32Array, count: number): Prediction[] {
  const width = outputs.length / Math.max(1, count);
  const threshold = binaryThreshold(task);
  const out: Prediction[] = [];
  for (let i = 0; i < count; i++) {
    const output = Array.from(outputs.subarray(i * width, (i + 1) * width));
    const p: Prediction = { output };
    if (task.output.kind === 'classes') {
      let best = 0;
      for (let k = 1; k < output.length; k++) if (output[k]! > output[best]!) best = k;
      p.class = best;
    } else if (task.output.kind === 'binary') {
      p.label = output[0]! >= threshold ? 1 : 0;
    }
    out.push(p);
  }
  return out;
}

/** A binary output is a probability after a last sigmoid (threshold 0.5), else a logit (threshold 0). */
function binaryThreshold(task: Task): number {
  const last = [...task.model.layers].reverse().find((l) => 'activation' in l);
  return last !== undefined && 'activation' in last && last.activation === 'sigmoid' ? 0.5 : 0;
}
