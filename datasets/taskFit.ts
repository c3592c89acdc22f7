import { OptionsError } from '../protocol/errors.js';
import type { Task } from '../protocol/taskTypes.js';
import type { DeviceTarget } from './deviceData.js';

/** What a device's data holds, as far as a task cares. */
export interface DataShape {
  /** One example's shape: `[features]`, `[window, features]`, `[28, 28, 1]`. */
  shape: readonly number[];
  target: DeviceTarget;
  /** Feature columns in order, when the data names them. */
  featureNames?: readonly string[];
}

/**
 * Why `data` cannot train `task`, or undefined when it can:
 * - the example shape must be the task's input shape, or hold as many values when the task's
 *   input is flat (`[784]` takes `[28, 28, 1]`: examples travel flat, row-major);
 * - features the task names must be the data's, in order;
 * - `classes` takes class labels, at most the task's count; `binary` at most 2; `regression`
 *   (one output) takes a regression target.
 */
export function taskMismatch(data: DataShape, task: Task): string | undefined {
  const shape = `[${data.shape.join(', ')}]`;
  const input = `[${task.input.shape.join(', ')}]`;
  const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
  const same = data.shape.length === task.input.shape.length && data.shape.every((n, i) => n === task.input.shape[i]);
  const flat = task.input.shape.length === 1 && size(data.shape) === size(task.input.shape);
  if (!same && !flat) {
    const window = data.shape.length === 2 && data.featureNames !== undefined ? ` (windows of ${data.shape[0]} readings of ${data.shape[1]} features)` : '';
    return `its examples are ${shape}${window} but the task's input is ${input}${task.input.shape.length === 2 ? ' (set the window to its first dimension)' : ''}`;
  }
  const names = task.input.features;
  if (names !== undefined && data.featureNames !== undefined && names.join('\u0000') !== data.featureNames.join('\u0000')) {
    return `its features are ${data.featureNames.join(', ')} but the task's are ${names.join(', ')} (choose them with features)`;
  }
  const out = task.output;
  const t = data.target;
  if (out.kind === 'regression') {
    if (t.kind !== 'regression') return "the task is a regression but the data's labels are read as classes (set target regression)";
    if (out.outputs !== 1) return `the task predicts ${out.outputs} values per example; a data file gives one label`;
    return undefined;
  }
  if (t.kind !== 'classification') return `the task's output is ${out.kind === 'binary' ? 'binary' : `${out.classes} classes`} but the data's target is a regression`;
  const most = out.kind === 'binary' ? 2 : out.classes;
  if (t.classes.length > most) {
    return `its labels are ${t.classes.length} classes (${preview(t.classes)}) but the task's output has ${most}${out.kind === 'binary' ? ' (binary: 0 and 1)' : ''}`;
  }
  return undefined;
}

/** Throws `OptionsError(option, 'WHAT: ...')` when `data` cannot train `task` (see `taskMismatch`). */
export function assertTaskFits(data: DataShape, task: Task, what: string, option = 'data'): void {
  const why = taskMismatch(data, task);
  if (why !== undefined) throw new OptionsError(option, `${what} does not fit the task '${task.name}': ${why}`);
}

function preview(names: readonly string[]): string {
  return names.length <= 6 ? names.join(', ') : `${names.slice(0, 5).join(', ')}, ... ${names[names.length - 1]}`;
}
