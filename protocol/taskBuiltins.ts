import type { Task, TaskLayer } from './taskTypes.js';

/**
 * The MNIST model zoo fedmq started with (kept in bench/baseline/models.ts) as tasks: MNIST, 28x28x1 grey pixels already in [0, 1]
 * (the MNIST loader reads bytes and divides by 255, so no `input.scale`), ten classes, plain
 * SGD at the aggregator's defaults (lr 0.05, E = 1, B = 20). Same layers, same flat weight
 * order, same parameter counts; `learning/task` seeds their initial weights exactly as
 * `initialWeights(name, seed)` does.
 */
export const BUILTIN_TASK_NAMES = ['mlp', '2nn', 'cnn'] as const;
export type BuiltinTaskName = (typeof BUILTIN_TASK_NAMES)[number];

export function isBuiltinTaskName(s: string): s is BuiltinTaskName {
  return (BUILTIN_TASK_NAMES as readonly string[]).includes(s);
}

const dense = (units: number, activation: 'relu' | 'linear'): TaskLayer => ({ kind: 'dense', units, activation, useBias: true });
const conv = (filters: number): TaskLayer => ({ kind: 'conv2d', filters, kernelSize: [5, 5], strides: [1, 1], padding: 'same', activation: 'relu', useBias: true });
const pool: TaskLayer = { kind: 'maxPool', poolSize: [2, 2], strides: [2, 2], padding: 'valid' };

const LAYERS: Record<BuiltinTaskName, () => TaskLayer[]> = {
  mlp: () => [{ kind: 'flatten' }, dense(128, 'relu'), dense(10, 'linear')],
  // "2NN" of McMahan et al. 2017, §3.
  '2nn': () => [{ kind: 'flatten' }, dense(200, 'relu'), dense(200, 'relu'), dense(10, 'linear')],
  // "CNN" of the same paper: 1,663,370 parameters.
  cnn: () => [conv(32), pool, conv(64), pool, { kind: 'flatten' }, dense(512, 'relu'), dense(10, 'linear')],
};

/** A fresh copy of a built-in task; throws `TypeError` for another name. */
export function builtinTask(name: BuiltinTaskName): Task {
  if (!isBuiltinTaskName(name)) throw new TypeError(`unknown built-in task "${String(name)}" (expected ${BUILTIN_TASK_NAMES.join(', ')})`);
  return {
    name,
    input: { shape: [28, 28, 1] },
    output: { kind: 'classes', classes: 10 },
    model: { layers: LAYERS[name]().map((l) => structuredClone(l)) },
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
    optimizer: { kind: 'sgd', lr: 0.05, momentum: 0, nesterov: false },
    training: { epochs: 1, batchSize: 20 },
  };
}

/** True when `task` is exactly a built-in task (MNIST, which the aggregator can evaluate centrally). */
export function isBuiltinTask(task: Task): task is Task & { name: BuiltinTaskName } {
  return isBuiltinTaskName(task.name) && JSON.stringify(task) === JSON.stringify(builtinTask(task.name));
}
