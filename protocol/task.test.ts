import { describe, expect, it } from 'vitest';
import { OptionsError } from './errors.js';
import { BUILTIN_TASK_NAMES, builtinTask, parseTask, taskLayout, TaskError } from './task.js';

/** A valid sensor task: 3 named features, binary output. */
function sensor(): Record<string, unknown> {
  return {
    name: 'sensor',
    input: { features: ['temperature', 'humidity', 'motion'] },
    output: { kind: 'binary' },
    model: { layers: [{ kind: 'dense', units: 8, activation: 'relu' }, { kind: 'dropout', rate: 0.2 }, { kind: 'dense', units: 1 }] },
    loss: 'binaryCrossentropy',
    metrics: ['accuracy', 'f1'],
    optimizer: { kind: 'adam', lr: 0.01 },
    training: { epochs: 2, batchSize: 16 },
  };
}

/** A valid sequence task: windows of 12 readings of 2 features, 3 classes, through conv1d, pooling and an LSTM. */
function sequence(): Record<string, unknown> {
  return {
    input: { shape: [12, 2] },
    output: { kind: 'classes', classes: 3 },
    model: {
      layers: [
        { kind: 'conv1d', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' },
        { kind: 'maxPool', poolSize: 2 },
        { kind: 'lstm', units: 5 },
        { kind: 'dense', units: 3, activation: 'softmax' },
      ],
    },
  };
}

function image(): Record<string, unknown> {
  return {
    input: { shape: [8, 8, 1], scale: 255 },
    output: { kind: 'classes', classes: 2 },
    model: { layers: [{ kind: 'conv2d', filters: 3, kernelSize: 3, activation: 'relu' }, { kind: 'maxPool' }, { kind: 'flatten' }, { kind: 'dense', units: 2 }] },
  };
}

/** `base` with `edit` applied to a deep copy. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test edits reach into arbitrary JSON
function edited(base: () => Record<string, unknown>, edit: (t: any) => void): unknown {
  const t = structuredClone(base());
  edit(t);
  return t;
}

describe('parseTask', () => {
  it('accepts a tabular, a sequence and an image task and fills the defaults', () => {
    // Execute
    const s = parseTask(sensor());
    const q = parseTask(sequence());
    const i = parseTask(image());
    // Assert
    expect(s.input).toEqual({ shape: [3], features: ['temperature', 'humidity', 'motion'] });
    expect(s.optimizer).toEqual({ kind: 'adam', lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
    expect(s.model.layers[2]).toEqual({ kind: 'dense', units: 1, activation: 'linear', useBias: true });
    expect(q.name).toBe('task');
    expect(q.loss).toBe('categoricalCrossentropy');
    expect(q.metrics).toEqual(['accuracy']);
    expect(q.training).toEqual({ epochs: 1, batchSize: 20 });
    expect(q.model.layers[1]).toEqual({ kind: 'maxPool', poolSize: [2], strides: [2], padding: 'valid' });
    expect(q.model.layers[2]).toMatchObject({ kind: 'lstm', activation: 'tanh', recurrentActivation: 'sigmoid', returnSequences: false });
    expect(taskLayout(q).shapes).toEqual([[12, 4], [6, 4], [5], [3]]);
    expect(i.input.scale).toBe(255);
    expect(taskLayout(i).shapes).toEqual([[6, 6, 3], [3, 3, 3], [27], [2]]);
    expect(taskLayout(i).paramCount).toBe(3 * 3 * 3 + 3 + 27 * 2 + 2);
  });

  it('keeps standardisation statistics, one per feature', () => {
    // Execute
    const t = parseTask(edited(sensor, (t) => (t.preprocessing = { standardize: { mean: [21, 40, 0.1], std: [3, 10, 0.3] } })));
    // Assert
    expect(t.preprocessing).toEqual({ standardize: { mean: [21, 40, 0.1], std: [3, 10, 0.3] } });
  });

  const MALFORMED: [string, unknown, string][] = [
    ['not an object', 42, 'task.(root): must be an object'],
    ['no input', edited(sensor, (t) => delete t.input), 'task.input: is required'],
    ['zero units', edited(sequence, (t) => (t.model.layers[2] = { kind: 'dense', units: 0 })), 'task.model.layers[2].units: must be an integer in [1, 65536], got 0'],
    ['a fractional dimension', edited(image, (t) => (t.input.shape = [8, 8.5, 1])), 'task.input.shape[1]: must be an integer in [1, 65536], got 8.5'],
    ['names disagree with the shape', edited(sensor, (t) => (t.input.shape = [4])), 'task.input.features: 3 names disagree'],
    ['a repeated feature name', edited(sensor, (t) => (t.input.features = ['a', 'a', 'b'])), 'task.input.features[1]: repeats the name "a"'],
    ['a negative scale', edited(image, (t) => (t.input.scale = -1)), 'task.input.scale: must be a number in (0, 1000000000], got -1'],
    ['one class', edited(image, (t) => (t.output = { kind: 'classes', classes: 1 })), 'task.output.classes: must be an integer in [2, 65536], got 1'],
    ['an unknown output kind', edited(image, (t) => (t.output = { kind: 'ranking' })), 'task.output.kind: must be one of classes, binary, regression, got "ranking"'],
    ['binary loss on 10 classes', edited(sequence, (t) => (t.loss = 'binaryCrossentropy')), 'task.loss: must be one of categoricalCrossentropy for a classes output'],
    ['f1 on a regression', edited(sensor, (t) => ((t.output = { kind: 'regression' }), (t.loss = 'meanSquaredError'), (t.metrics = ['f1']))), 'task.metrics[0]: must be one of meanSquaredError'],
    ['an unknown layer', edited(sequence, (t) => (t.model.layers[0] = { kind: 'attention' })), 'task.model.layers[0].kind: must be one of dense, dropout'],
    ['a misspelt field', edited(sensor, (t) => (t.model.layers[0].activaton = 'relu')), 'task.model.layers[0].activaton: unknown field for a dense layer'],
    ['dropout rate 1', edited(sensor, (t) => (t.model.layers[1].rate = 1)), 'task.model.layers[1].rate: must be a number in [0, 1), got 1'],
    ['conv2d on a sequence', edited(sequence, (t) => (t.model.layers[0].kind = 'conv2d')), 'task.model.layers[0]: conv2d needs a [height, width, channels] input, got shape [12, 2]'],
    ['dense on an image without flatten', edited(image, (t) => t.model.layers.splice(2, 1)), 'task.model.layers[2]: dense needs a flat [features] input'],
    ['a kernel larger than the input', edited(image, (t) => (t.model.layers[0].kernelSize = 9)), 'task.model.layers[0].kernelSize: window 9 is larger than the input (8)'],
    ['an output of the wrong size', edited(sequence, (t) => (t.model.layers[3].units = 4)), 'task.model.layers: the model\'s output has shape [4], the classes output needs [3]'],
    ['sigmoid on a classes output', edited(sequence, (t) => (t.model.layers[3].activation = 'sigmoid')), 'task.model.layers[3].activation: a classes output needs one of linear, softmax'],
    ['softmax in a hidden layer', edited(sensor, (t) => (t.model.layers[0].activation = 'softmax')), 'task.model.layers[0].activation: softmax is allowed on the last layer only'],
    ['a sequence output', edited(sequence, (t) => (t.model.layers = [{ kind: 'gru', units: 3, returnSequences: true }])), 'the model\'s output has shape [12, 3]'],
    ['a huge learning rate', edited(sensor, (t) => (t.optimizer.lr = 1e6)), 'task.optimizer.lr: must be a number in (0, 10], got 1000000'],
    ['momentum for adam', edited(sensor, (t) => (t.optimizer.momentum = 0.9)), 'task.optimizer.momentum: unknown field for the adam optimizer'],
    ['zero epochs', edited(sensor, (t) => (t.training.epochs = 0)), 'task.training.epochs: must be an integer in [1, 1000], got 0'],
    ['a string batch size', edited(sensor, (t) => (t.training.batchSize = '16')), 'task.training.batchSize: must be an integer in [1, 1024], got "16"'],
    ['too few means', edited(sensor, (t) => (t.preprocessing = { standardize: { mean: [0, 0], std: [1, 1, 1] } })), 'task.preprocessing.standardize.mean: must be a list of 3 numbers'],
    ['a zero std', edited(sensor, (t) => (t.preprocessing = { standardize: { mean: [0, 0, 0], std: [1, 0, 1] } })), 'task.preprocessing.standardize.std[1]: must be a number in (0, 1e+30], got 0'],
    ['too many parameters', edited(sensor, (t) => (t.model.layers = [{ kind: 'dense', units: 65536 }, { kind: 'dense', units: 65536 }, { kind: 'dense', units: 1 }])), 'task.model.layers[1]: the model exceeds 8388608 parameters'],
    ['no layers', edited(sensor, (t) => (t.model.layers = [])), 'task.model.layers: must be a list of 1 to 64 items, got []'],
    ['a 2-D pool size on a sequence', edited(sequence, (t) => (t.model.layers[1].poolSize = [2, 2])), 'task.model.layers[1].poolSize: must be an integer in [1, 64] or a list of 1'],
    ['a bad task name', edited(sensor, (t) => (t.name = 'my task!')), 'task.name: must be a name of 1 to 64 letters'],
  ];

  it.each(MALFORMED)('refuses %s, naming the field', (_label, json, message) => {
    // Execute
    const parse = (): unknown => parseTask(json);
    // Assert
    expect(parse).toThrow(TaskError);
    expect(parse).toThrow(OptionsError);
    expect(parse).toThrow(message);
  });

  it('refuses with the field path and the option "task"', () => {
    // Execute
    let error: unknown;
    try {
      parseTask(edited(sequence, (t) => (t.model.layers[2] = { kind: 'dense', units: 0 })));
    } catch (e) {
      error = e;
    }
    // Assert
    expect(error).toBeInstanceOf(TaskError);
    expect((error as TaskError).option).toBe('task');
    expect((error as TaskError).field).toBe('model.layers[2].units');
    expect((error as TaskError).message).toBe('task.model.layers[2].units: must be an integer in [1, 65536], got 0');
  });
});

describe('built-in tasks', () => {
  it('are valid tasks with the zoo\'s parameter counts', () => {
    const expected = { mlp: 101_770, '2nn': 199_210, cnn: 1_663_370 };
    for (const name of BUILTIN_TASK_NAMES) {
      // Execute
      const task = builtinTask(name);
      // Assert
      expect(parseTask(JSON.parse(JSON.stringify(task)))).toEqual(task);
      expect(taskLayout(task).paramCount).toBe(expected[name]);
    }
  });

  it('are fresh copies', () => {
    // Execute
    const a = builtinTask('mlp');
    (a.model.layers[1] as { units: number }).units = 5;
    // Assert
    expect(builtinTask('mlp').model.layers[1]).toMatchObject({ units: 128 });
  });
});
