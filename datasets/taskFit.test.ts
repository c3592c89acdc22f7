import { describe, expect, it } from 'vitest';
import { OptionsError, builtinTask, parseTask } from '../protocol/index.js';
import { assertTaskFits, taskMismatch, type DataShape } from './index.js';

const classes = (n: number): DataShape['target'] => ({ kind: 'classification', classes: Array.from({ length: n }, (_, i) => String(i)) });
const task = (input: object, output: object, units = 1): ReturnType<typeof parseTask> =>
  parseTask({ input, output, model: { layers: [{ kind: 'flatten' }, { kind: 'dense', units }] } });

describe('taskMismatch', () => {
  it.each<[string, DataShape, ReturnType<typeof parseTask>]>([
    ['MNIST for a built-in task', { shape: [28, 28, 1], target: classes(10) }, builtinTask('cnn')],
    ['MNIST for a flat input of 784', { shape: [28, 28, 1], target: classes(10) }, task({ shape: [784] }, { kind: 'classes', classes: 10 }, 10)],
    ['windows for a flat input of as many values', { shape: [12, 2], target: classes(2) }, task({ shape: [24] }, { kind: 'binary' })],
    ['fewer classes than the task has', { shape: [2], target: classes(3) }, task({ shape: [2] }, { kind: 'classes', classes: 5 }, 5)],
    ['a regression target', { shape: [3], target: { kind: 'regression' }, featureNames: ['a', 'b', 'c'] }, task({ features: ['a', 'b', 'c'] }, { kind: 'regression', outputs: 1 })],
  ])('accepts %s', (_, data, t) => {
    expect(taskMismatch(data, t)).toBeUndefined();
  });

  it.each<[string, DataShape, ReturnType<typeof parseTask>, RegExp]>([
    ['a transposed sequence', { shape: [12, 2], target: classes(2) }, task({ shape: [2, 12] }, { kind: 'binary' }), /\[12, 2\] but the task's input is \[2, 12\]/],
    ['three classes for a binary task', { shape: [2], target: classes(3) }, task({ shape: [2] }, { kind: 'binary' }), /3 classes .* has 2 \(binary: 0 and 1\)/],
    ['classes for a regression', { shape: [2], target: classes(2) }, task({ shape: [2] }, { kind: 'regression', outputs: 1 }), /set target regression/],
    ['one label for two regression outputs', { shape: [2], target: { kind: 'regression' } }, task({ shape: [2] }, { kind: 'regression', outputs: 2 }, 2), /predicts 2 values/],
    ['features in another order', { shape: [2], target: classes(2), featureNames: ['b', 'a'] }, task({ features: ['a', 'b'] }, { kind: 'binary' }), /features are b, a but the task's are a, b/],
  ])('refuses %s', (_, data, t, message) => {
    expect(taskMismatch(data, t)).toMatch(message);
  });

  it('assertTaskFits throws an OptionsError naming the option and what was read', () => {
    const attempt = (): void => assertTaskFits({ shape: [3], target: classes(2) }, builtinTask('mlp'), 'readings.csv');

    expect(attempt).toThrow(OptionsError);
    expect(attempt).toThrow(/^data: readings\.csv does not fit the task 'mlp': its examples are \[3\] but the task's input is \[28, 28, 1\]/);
  });
});
