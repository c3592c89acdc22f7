import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { OptionsError } from '../../protocol/errors.js';
import { parseTask, taskLayout, type Task } from '../../protocol/task.js';

/**
 * A TensorFlow.js layers model (what `tensorflowjs_converter` writes from Keras, or tfjs's
 * `model.save`) as a task and its weights as the task's initial flat vector.
 */
export interface ImportedModel {
  task: Task;
  weights: Float32Array;
  /** What was read but has no effect in fedmq (regularisers, recurrent dropout), one line each. */
  notes: string[];
}

export interface KerasImportOptions {
  /**
   * Task fields that override what the import derives (JSON as `parseTask` reads it): e.g.
   * `output` (otherwise from the training config's loss or the last layer's activation),
   * `loss`, `metrics`, `optimizer`, `training`, `name`, `preprocessing`, or `input` (the shape
   * is always the model's; names and scale are taken from here).
   */
  overrides?: Record<string, unknown>;
}

type Obj = Record<string, unknown>;
const SUPPORTED = ['InputLayer', 'Dense', 'Dropout', 'Flatten', 'Activation', 'Conv1D', 'Conv2D', 'MaxPooling1D', 'MaxPooling2D', 'GRU', 'LSTM'];
const ALIASES: Record<string, string> = { MaxPool1D: 'MaxPooling1D', MaxPool2D: 'MaxPooling2D', Convolution1D: 'Conv1D', Convolution2D: 'Conv2D' };
const ACTIVATIONS: Record<string, string> = { linear: 'linear', relu: 'relu', sigmoid: 'sigmoid', tanh: 'tanh', softmax: 'softmax', hard_sigmoid: 'hardSigmoid', hardSigmoid: 'hardSigmoid' };
const ROLES = { kernel: 'kernel', recurrentKernel: 'recurrent_kernel', bias: 'bias' } as const;

const fail = (message: string): never => {
  throw new OptionsError('task', message);
};
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads `model.json` and the weight shards its manifest names (paths relative to it). */
export async function loadKerasModelFile(file: string, options: KerasImportOptions = {}): Promise<ImportedModel> {
  const json: unknown = JSON.parse(await readFile(file, 'utf8'));
  const shards: Uint8Array[] = [];
  for (const group of manifest(json)) {
    for (const p of group.paths) shards.push(await readFile(path.resolve(path.dirname(file), p)));
  }
  return importKerasModel(json, shards, options);
}

/**
 * `modelJson`: the parsed model.json; `weightData`: its shards in manifest order (or already
 * concatenated). Sequential models only. A layer fedmq cannot train is refused by name
 * (`OptionsError('task')`), before any weight is read.
 */
export function importKerasModel(modelJson: unknown, weightData: ArrayBuffer | Uint8Array | readonly (ArrayBuffer | Uint8Array)[], options: KerasImportOptions = {}): ImportedModel {
  if (!isObj(modelJson) || !isObj(modelJson['modelTopology'])) fail('model.json: no "modelTopology" (is this a TensorFlow.js layers model?)');
  const topology = (modelJson as Obj)['modelTopology'] as Obj;
  const model = isObj(topology['model_config']) ? topology['model_config'] : topology;
  if (model['class_name'] !== 'Sequential') fail(`model.json: a ${String(model['class_name'])} model; fedmq imports Sequential models only`);
  const rawLayers = (isObj(model['config']) ? model['config']['layers'] : model['config']) as unknown;
  if (!Array.isArray(rawLayers)) fail('model.json: a Sequential model without layers');
  const notes: string[] = [];
  const layers: Obj[] = [];
  /** Keras layer name of each task layer. */
  const names: string[] = [];
  let inputShape: unknown = null;
  (rawLayers as unknown[]).forEach((raw, i) => {
    const cls = isObj(raw) ? String(raw['class_name']) : '?';
    const kind = ALIASES[cls] ?? cls;
    const c = isObj(raw) && isObj(raw['config']) ? raw['config'] : {};
    const name = typeof c['name'] === 'string' ? c['name'] : `layer ${i}`;
    if (!SUPPORTED.includes(kind)) fail(`layer ${i} "${name}" is a ${cls}, which fedmq cannot train (it trains ${SUPPORTED.join(', ')})`);
    inputShape ??= c['batch_input_shape'] ?? c['batch_shape'] ?? null;
    const layer = convertLayer(kind, c, `layer ${i} "${name}"`, notes);
    if (layer === null) return;
    if (kind === 'Activation') {
      const previous = layers[layers.length - 1];
      if (previous === undefined || !('activation' in previous) || previous['activation'] !== 'linear') fail(`layer ${i} "${name}": an Activation layer must follow a layer without activation`);
      (previous as Obj)['activation'] = layer['activation'];
      return;
    }
    layers.push(layer);
    names.push(name);
  });
  if (!Array.isArray(inputShape) || inputShape.length < 2) fail('model.json: no input shape (batch_input_shape) on the first layer');
  const shape = (inputShape as unknown[]).slice(1);
  if (!shape.every((d) => typeof d === 'number')) fail(`model.json: input shape [${shape.map(String).join(', ')}] has an unknown (None) dimension; fedmq needs a fixed shape`);
  const overrides = options.overrides ?? {};
  const taskJson: Obj = {
    name: typeof model['config'] === 'object' && isObj(model['config']) && typeof model['config']['name'] === 'string' ? sanitizeName(model['config']['name']) : 'keras',
    output: guessOutput(layers, topology),
    ...overrides,
    input: { ...(isObj(overrides['input']) ? overrides['input'] : {}), shape },
    model: { layers },
  };
  if (taskJson['loss'] === undefined && (taskJson['output'] as Obj)['kind'] === 'regression') taskJson['loss'] = 'meanSquaredError';
  const task = parseTask(taskJson);
  return { task, weights: readWeights(task, names, modelJson as Obj, weightData), notes };
}

function convertLayer(kind: string, c: Obj, where: string, notes: string[]): Obj | null {
  const activation = (key = 'activation'): string => {
    const a = c[key] ?? 'linear';
    const mapped = typeof a === 'string' ? ACTIVATIONS[a] : undefined;
    return mapped ?? fail(`${where}: activation ${JSON.stringify(a)} is not supported (${Object.keys(ACTIVATIONS).join(', ')})`);
  };
  const first = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v);
  const channelsLast = (): void => {
    if (c['data_format'] !== undefined && c['data_format'] !== null && c['data_format'] !== 'channels_last') fail(`${where}: data_format ${String(c['data_format'])}; fedmq is channels_last`);
  };
  const noDilation = (): void => {
    const d = c['dilation_rate'];
    if (d !== undefined && d !== null && [d].flat().some((x) => x !== 1)) fail(`${where}: dilation_rate ${JSON.stringify(d)} is not supported`);
  };
  for (const key of ['kernel_regularizer', 'bias_regularizer', 'recurrent_regularizer', 'activity_regularizer', 'kernel_constraint', 'bias_constraint', 'recurrent_constraint']) {
    if (c[key] !== undefined && c[key] !== null) notes.push(`${where}: ${key} ignored`);
  }
  if (c['trainable'] === false) notes.push(`${where}: marked not trainable; fedmq trains every layer`);
  switch (kind) {
    case 'InputLayer':
      return null;
    case 'Activation':
      return { activation: activation() };
    case 'Dense':
      return { kind: 'dense', units: c['units'], activation: activation(), useBias: c['use_bias'] ?? true };
    case 'Dropout':
      if (c['noise_shape'] !== undefined && c['noise_shape'] !== null) notes.push(`${where}: noise_shape ignored`);
      return { kind: 'dropout', rate: c['rate'] };
    case 'Flatten':
      channelsLast();
      return { kind: 'flatten' };
    case 'Conv1D':
    case 'Conv2D': {
      channelsLast();
      noDilation();
      if (c['padding'] === 'causal') fail(`${where}: padding "causal" is not supported`);
      if (c['groups'] !== undefined && c['groups'] !== 1) fail(`${where}: grouped convolution is not supported`);
      const oneD = kind === 'Conv1D';
      return {
        kind: oneD ? 'conv1d' : 'conv2d',
        filters: c['filters'],
        kernelSize: oneD ? first(c['kernel_size']) : c['kernel_size'],
        strides: oneD ? first(c['strides'] ?? 1) : (c['strides'] ?? 1),
        padding: c['padding'] ?? 'valid',
        activation: activation(),
        useBias: c['use_bias'] ?? true,
      };
    }
    case 'MaxPooling1D':
    case 'MaxPooling2D': {
      channelsLast();
      const oneD = kind === 'MaxPooling1D';
      const size = c['pool_size'] ?? 2;
      return { kind: 'maxPool', poolSize: oneD ? first(size) : size, strides: oneD ? first(c['strides'] ?? size) : (c['strides'] ?? size), padding: c['padding'] ?? 'valid' };
    }
    case 'GRU':
    case 'LSTM': {
      for (const flag of ['go_backwards', 'stateful', 'return_state']) if (c[flag] === true) fail(`${where}: ${flag} is not supported`);
      for (const key of ['dropout', 'recurrent_dropout']) if (typeof c[key] === 'number' && c[key] > 0) notes.push(`${where}: ${key} ${String(c[key])} ignored (fedmq trains without it)`);
      const out: Obj = {
        kind: kind === 'GRU' ? 'gru' : 'lstm',
        units: c['units'],
        activation: activation(),
        recurrentActivation: activation('recurrent_activation'),
        returnSequences: c['return_sequences'] ?? false,
        useBias: c['use_bias'] ?? true,
      };
      if (kind === 'GRU') out['resetAfter'] = c['reset_after'] ?? false;
      return out;
    }
    default:
      return fail(`${where}: ${kind} is not supported`);
  }
}

/** From the training config's loss if the file has one, else from the last layer. */
function guessOutput(layers: Obj[], topology: Obj): Obj {
  const last = layers[layers.length - 1] ?? {};
  const units = typeof last['units'] === 'number' ? last['units'] : 1;
  const training = isObj(topology['training_config']) ? topology['training_config'] : {};
  const loss = JSON.stringify(training['loss'] ?? '').toLowerCase();
  if (loss.includes('binary')) return { kind: 'binary' };
  if (loss.includes('categorical') || last['activation'] === 'softmax') return { kind: 'classes', classes: units };
  if (units === 1 && last['activation'] === 'sigmoid') return { kind: 'binary' };
  return { kind: 'regression', outputs: units };
}

function sanitizeName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
  return s === '' ? 'keras' : s;
}

interface WeightEntry {
  name: string;
  shape: number[];
  dtype?: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

function manifest(json: unknown): { paths: string[]; weights: WeightEntry[] }[] {
  const m = isObj(json) ? json['weightsManifest'] : undefined;
  if (!Array.isArray(m) || !m.every((g) => isObj(g) && Array.isArray(g['paths']) && Array.isArray(g['weights']))) fail('model.json: no valid "weightsManifest"');
  return m as { paths: string[]; weights: WeightEntry[] }[];
}

/** Decodes every manifest entry (float32, or uint8/uint16/float16 quantised) and lays them out in the task's order. */
function readWeights(task: Task, names: string[], json: Obj, data: ArrayBuffer | Uint8Array | readonly (ArrayBuffer | Uint8Array)[]): Float32Array {
  const parts = (Array.isArray(data) ? data : [data]) as (ArrayBuffer | Uint8Array)[];
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(p instanceof Uint8Array ? p : new Uint8Array(p), at);
    at += p.byteLength;
  }
  const view = new DataView(bytes.buffer);
  const decoded = new Map<string, { shape: number[]; values: Float32Array }>();
  let offset = 0;
  for (const entry of manifest(json).flatMap((g) => g.weights)) {
    const size = entry.shape.reduce((a, b) => a * b, 1);
    const q = entry.quantization;
    const width = q === undefined ? 4 : q.dtype === 'uint8' ? 1 : 2;
    if (q === undefined && (entry.dtype ?? 'float32') !== 'float32') fail(`weights: "${entry.name}" is ${entry.dtype}; fedmq reads float32 weights`);
    if (offset + size * width > bytes.length) fail(`weights: the shards end before "${entry.name}"`);
    const values = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      const o = offset + i * width;
      if (q === undefined) values[i] = view.getFloat32(o, true);
      else if (q.dtype === 'float16') values[i] = half(view.getUint16(o, true));
      else values[i] = (width === 1 ? view.getUint8(o) : view.getUint16(o, true)) * (q.scale ?? 1) + (q.min ?? 0);
    }
    decoded.set(entry.name.replace(/:0$/, ''), { shape: entry.shape, values });
    offset += size * width;
  }
  if (offset !== bytes.length) fail(`weights: the shards hold ${bytes.length} bytes, the manifest describes ${offset}`);
  const layout = taskLayout(task);
  const out = new Float32Array(layout.paramCount);
  let pos = 0;
  for (const p of layout.params) {
    const layer = names[p.layer] as string;
    const role = ROLES[p.role];
    const match = [...decoded.entries()].find(([n]) => n === `${layer}/${role}` || n.endsWith(`/${layer}/${role}`) || (n.startsWith(`${layer}/`) && n.endsWith(`/${role}`)));
    if (match === undefined) fail(`weights: no "${layer}/${role}" in the weights manifest`);
    const [name, w] = match as [string, { shape: number[]; values: Float32Array }];
    if (w.shape.join(',') !== p.shape.join(',')) fail(`weights: "${name}" has shape [${w.shape.join(', ')}], the layer needs [${p.shape.join(', ')}]`);
    out.set(w.values, pos);
    pos += p.size;
  }
  return out;
}

/** IEEE 754 half precision to a number. */
function half(h: number): number {
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}
