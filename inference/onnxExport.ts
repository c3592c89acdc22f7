import onnxProto from 'onnx-proto';
import { OptionsError } from '../protocol/errors.js';
import { taskLayout, type Activation, type RecurrentActivation, type Task, type TaskLayer, type TaskParam } from '../protocol/task.js';

const { onnx } = onnxProto;
type Node = onnxProto.onnx.INodeProto;
type Tensor = onnxProto.onnx.ITensorProto;
type Attribute = onnxProto.onnx.IAttributeProto;

/**
 * IR version 8 (ONNX 1.10 to 1.12, what onnx-proto 8 describes) with the default-domain opset
 * 17: both well inside what onnxruntime 1.x runs (it reads IR 3 and up).
 */
export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 17;
export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'output';
/** metadata_props keys of an exported model. */
export const ONNX_METADATA = { task: 'fedmq.task', paramCount: 'fedmq.paramCount' } as const;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const A = onnx.AttributeProto.AttributeType;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const attr = {
  int: (name: string, i: number): Attribute => ({ name, type: A.INT, i }),
  ints: (name: string, ints: number[]): Attribute => ({ name, type: A.INTS, ints }),
  float: (name: string, f: number): Attribute => ({ name, type: A.FLOAT, f }),
  floats: (name: string, floats: number[]): Attribute => ({ name, type: A.FLOATS, floats }),
  strings: (name: string, strings: string[]): Attribute => ({ name, type: A.STRINGS, strings: strings.map((s) => new TextEncoder().encode(s)) }),
};

/** float32 values as ONNX raw_data: little-endian whatever the host. */
function rawFloats(values: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return out;
}

/** Nodes and initializers of one graph, with fresh value names. */
class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers: Tensor[] = [];
  private next = 0;

  fresh(prefix: string): string {
    return `${prefix}_${this.next++}`;
  }

  floats(prefix: string, dims: number[], values: Float32Array | number[]): string {
    const name = this.fresh(prefix);
    this.initializers.push({ name, dims, dataType: FLOAT, rawData: rawFloats(values instanceof Float32Array ? values : Float32Array.from(values)) });
    return name;
  }

  int64s(prefix: string, values: number[]): string {
    const name = this.fresh(prefix);
    this.initializers.push({ name, dims: [values.length], dataType: INT64, int64Data: values });
    return name;
  }

  /** Adds a node; returns the names of its `outputs` outputs. */
  node(opType: string, inputs: string[], attribute: Attribute[] = [], outputs = 1): string[] {
    const names = Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase()));
    this.nodes.push({ opType, name: this.fresh(`${opType}_node`), input: inputs, output: names, attribute });
    return names;
  }

  one(opType: string, inputs: string[], attribute: Attribute[] = []): string {
    return this.node(opType, inputs, attribute)[0] as string;
  }
}

/**
 * The value flowing between layers: `shape` is one example's shape as Keras sees it (channels
 * last); `channelsFirst` says the tensor itself is laid out [N, C, spatial...] for ONNX's
 * convolutions and pooling (transposed back only when a layer needs channels last).
 */
interface Flow {
  name: string;
  shape: number[];
  channelsFirst: boolean;
}

/**
 * The task's model with `weights` (flat, in `taskLayout` order) as an ONNX model that computes
 * what `TaskModel.predict` does on raw examples: the task's `input.scale` and standardisation
 * first, then the layers (dropout as identity), and the declared last activation. Input
 * `input` [N, ...task.input.shape] float32, output `output` [N, outputs]. Layers ONNX cannot
 * compute exactly are refused with `OptionsError('task', 'layer N (KIND): why')`.
 */
export function exportOnnx(task: Task, weights: Float32Array): Uint8Array {
  const layout = taskLayout(task);
  if (!(weights instanceof Float32Array) || weights.length !== layout.paramCount) {
    throw new OptionsError('weights', `expected ${layout.paramCount} float32 values for task ${task.name}, got ${weights instanceof Float32Array ? weights.length : typeof weights}`);
  }
  checkExportable(task);
  const g = new GraphBuilder();
  let flow: Flow = { name: ONNX_INPUT, shape: task.input.shape, channelsFirst: false };
  flow = preprocess(g, task, flow);

  // Each layer's parameters as slices of `weights`, in layout order.
  const byLayer: Float32Array[][] = task.model.layers.map(() => []);
  let offset = 0;
  for (const p of layout.params) {
    byLayer[p.layer]?.push(weights.subarray(offset, offset + p.size));
    offset += p.size;
  }
  const specs: TaskParam[][] = task.model.layers.map((_, i) => layout.params.filter((p) => p.layer === i));

  task.model.layers.forEach((layer, i) => {
    flow = exportLayer(g, layer, i, flow, byLayer[i] as Float32Array[], specs[i] as TaskParam[], layout.shapes[i] as number[]);
  });
  flow = channelsLast(g, flow);
  g.nodes.push({ opType: 'Identity', name: 'output_node', input: [flow.name], output: [ONNX_OUTPUT] });

  const outputs = layout.shapes[layout.shapes.length - 1] as number[];
  const valueInfo = (name: string, dims: number[]): onnxProto.onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'N' }, ...dims.map((d) => ({ dimValue: d }))] } } },
  });
  const model = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'fedmq',
    docString: `fedmq task ${task.name}: ${layout.paramCount} parameters; input ${ONNX_INPUT} [N, ${task.input.shape.join(', ')}] raw (preprocessing included), output ${ONNX_OUTPUT} [N, ${outputs.join(', ')}]`,
    graph: {
      name: task.name,
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo(ONNX_INPUT, task.input.shape)],
      output: [valueInfo(ONNX_OUTPUT, outputs)],
    },
    metadataProps: [
      { key: ONNX_METADATA.task, value: JSON.stringify(task) },
      { key: ONNX_METADATA.paramCount, value: String(layout.paramCount) },
    ],
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Throws for what the graph cannot compute as TaskModel does, naming the layer. */
function checkExportable(task: Task): void {
  if (task.preprocessing?.standardize === 'fleet') {
    throw new OptionsError('task', 'preprocessing.standardize: "fleet": the fleet\'s statistics are not in this task yet, so the model would be exported without the standardisation it was trained with (export from the task the aggregator publishes once it has them)');
  }
  task.model.layers.forEach((layer, i) => {
    if ((layer.kind === 'gru' || layer.kind === 'lstm') && layer.activation === 'softmax') {
      throw new OptionsError('task', `layer ${i} (${layer.kind}): a softmax activation inside the recurrence has no ONNX ${layer.kind.toUpperCase()} equivalent (ONNX recurrent activations are element-wise)`);
    }
  });
}

function preprocess(g: GraphBuilder, task: Task, flow: Flow): Flow {
  let name = flow.name;
  const { scale } = task.input;
  if (scale !== undefined) name = g.one('Div', [name, g.floats('scale', [], [scale])]);
  const s = task.preprocessing?.standardize;
  if (s !== undefined && s !== 'fleet') {
    name = g.one('Sub', [name, g.floats('mean', [s.mean.length], s.mean)]);
    name = g.one('Div', [name, g.floats('std', [s.std.length], s.std)]);
  }
  return { ...flow, name };
}

/** [N, spatial..., C] -> [N, C, spatial...]. */
function channelsFirst(g: GraphBuilder, flow: Flow): Flow {
  if (flow.channelsFirst) return flow;
  const r = flow.shape.length;
  const perm = [0, r, ...Array.from({ length: r - 1 }, (_, d) => d + 1)];
  return { ...flow, name: g.one('Transpose', [flow.name], [attr.ints('perm', perm)]), channelsFirst: true };
}

/** [N, C, spatial...] -> [N, spatial..., C]. */
function channelsLast(g: GraphBuilder, flow: Flow): Flow {
  if (!flow.channelsFirst) return flow;
  const r = flow.shape.length;
  const perm = [0, ...Array.from({ length: r - 1 }, (_, d) => d + 2), 1];
  return { ...flow, name: g.one('Transpose', [flow.name], [attr.ints('perm', perm)]), channelsFirst: false };
}

function activation(g: GraphBuilder, flow: Flow, a: Activation): Flow {
  switch (a) {
    case 'linear':
      return flow;
    case 'relu':
      return { ...flow, name: g.one('Relu', [flow.name]) };
    case 'sigmoid':
      return { ...flow, name: g.one('Sigmoid', [flow.name]) };
    case 'tanh':
      return { ...flow, name: g.one('Tanh', [flow.name]) };
    case 'softmax': {
      // Over the features, as tf.softmax: channels last.
      const last = channelsLast(g, flow);
      return { ...last, name: g.one('Softmax', [last.name], [attr.int('axis', -1)]) };
    }
  }
}

/** Keras's "same" (TensorFlow's): ceil(n / s) outputs, the odd padding at the end. */
function windowPads(spatial: number[], kernel: number[], strides: number[], padding: 'same' | 'valid'): number[] {
  if (padding === 'valid') return spatial.flatMap(() => [0, 0]);
  const begins: number[] = [];
  const ends: number[] = [];
  spatial.forEach((n, d) => {
    const k = kernel[d] as number;
    const s = strides[d] as number;
    const total = Math.max((Math.ceil(n / s) - 1) * s + k - n, 0);
    begins.push(Math.floor(total / 2));
    ends.push(total - Math.floor(total / 2));
  });
  return [...begins, ...ends];
}

/** Keras HWIO ([k..., in, out]) to ONNX OIHW ([out, in, k...]). */
function kernelToOihw(w: Float32Array, shape: number[]): { values: Float32Array; dims: number[] } {
  const spatial = shape.slice(0, -2);
  const ci = shape[shape.length - 2] as number;
  const co = shape[shape.length - 1] as number;
  const k = spatial.reduce((a, b) => a * b, 1);
  const out = new Float32Array(w.length);
  for (let s = 0; s < k; s++) for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) out[(o * ci + i) * k + s] = w[(s * ci + i) * co + o] as number;
  return { values: out, dims: [co, ci, ...spatial] };
}

/**
 * A Keras recurrent kernel [rows, gates*units] as ONNX's [1, gates*units, rows], gate blocks
 * taken in `order` (indices of Keras's blocks).
 */
function recurrentWeights(w: Float32Array, rows: number, units: number, order: number[]): Float32Array {
  const gates = order.length;
  const cols = gates * units;
  const out = new Float32Array(w.length);
  order.forEach((kb, ob) => {
    for (let u = 0; u < units; u++) for (let r = 0; r < rows; r++) out[(ob * units + u) * rows + r] = w[r * cols + kb * units + u] as number;
  });
  return out;
}

function reorderBlocks(b: Float32Array, units: number, order: number[]): Float32Array {
  const out = new Float32Array(order.length * units);
  order.forEach((kb, ob) => out.set(b.subarray(kb * units, (kb + 1) * units), ob * units));
  return out;
}

const RNN_ACTIVATIONS: Record<Exclude<Activation | RecurrentActivation, 'softmax'>, { op: string; alpha?: number; beta?: number }> = {
  linear: { op: 'Affine', alpha: 1, beta: 0 },
  relu: { op: 'Relu' },
  sigmoid: { op: 'Sigmoid' },
  tanh: { op: 'Tanh' },
  // tfjs's (Keras 2's) hard sigmoid, clip(0.2 x + 0.5, 0, 1): ONNX's HardSigmoid with the same constants.
  hardSigmoid: { op: 'HardSigmoid', alpha: 0.2, beta: 0.5 },
};

/** The activations, activation_alpha and activation_beta attributes of an ONNX GRU or LSTM. */
function rnnActivations(list: (Activation | RecurrentActivation)[]): Attribute[] {
  const specs = list.map((a) => RNN_ACTIVATIONS[a as keyof typeof RNN_ACTIVATIONS]);
  const alphas = specs.filter((s) => s.alpha !== undefined).map((s) => s.alpha as number);
  const betas = specs.filter((s) => s.beta !== undefined).map((s) => s.beta as number);
  return [attr.strings('activations', specs.map((s) => s.op)), ...(alphas.length > 0 ? [attr.floats('activation_alpha', alphas)] : []), ...(betas.length > 0 ? [attr.floats('activation_beta', betas)] : [])];
}

function exportLayer(g: GraphBuilder, layer: TaskLayer, index: number, flow: Flow, params: Float32Array[], specs: TaskParam[], outShape: number[]): Flow {
  const [w, b] = params;
  const shapeOf = (i: number): number[] => (specs[i] as TaskParam).shape;
  switch (layer.kind) {
    case 'dropout':
      return flow;
    case 'flatten': {
      if (flow.shape.length === 1) return flow;
      // Keras flattens channels last.
      const last = channelsLast(g, flow);
      return { name: g.one('Flatten', [last.name], [attr.int('axis', 1)]), shape: outShape, channelsFirst: false };
    }
    case 'dense': {
      let name = g.one('MatMul', [flow.name, g.floats(`dense${index}_kernel`, shapeOf(0), w as Float32Array)]);
      if (b !== undefined) name = g.one('Add', [name, g.floats(`dense${index}_bias`, shapeOf(1), b)]);
      return activation(g, { name, shape: outShape, channelsFirst: false }, layer.activation);
    }
    case 'conv1d':
    case 'conv2d': {
      const first = channelsFirst(g, flow);
      const kernel = kernelToOihw(w as Float32Array, shapeOf(0));
      const ks = layer.kind === 'conv1d' ? [layer.kernelSize] : layer.kernelSize;
      const strides = layer.kind === 'conv1d' ? [layer.strides] : layer.strides;
      const inputs = [first.name, g.floats(`${layer.kind}${index}_kernel`, kernel.dims, kernel.values)];
      if (b !== undefined) inputs.push(g.floats(`${layer.kind}${index}_bias`, shapeOf(1), b));
      const name = g.one('Conv', inputs, [
        attr.ints('kernel_shape', ks),
        attr.ints('strides', strides),
        attr.ints('pads', windowPads(flow.shape.slice(0, -1), ks, strides, layer.padding)),
        attr.ints('dilations', ks.map(() => 1)),
        attr.int('group', 1),
      ]);
      return activation(g, { name, shape: outShape, channelsFirst: true }, layer.activation);
    }
    case 'maxPool': {
      const first = channelsFirst(g, flow);
      const name = g.one('MaxPool', [first.name], [
        attr.ints('kernel_shape', layer.poolSize),
        attr.ints('strides', layer.strides),
        attr.ints('pads', windowPads(flow.shape.slice(0, -1), layer.poolSize, layer.strides, layer.padding)),
      ]);
      return { name, shape: outShape, channelsFirst: true };
    }
    case 'gru':
    case 'lstm': {
      const last = channelsLast(g, flow);
      const [, features = 0] = flow.shape;
      const u = layer.units;
      const gru = layer.kind === 'gru';
      // Keras's gates: GRU z, r, h (ONNX's order too); LSTM i, f, c, o, ONNX's i, o, f, c.
      const order = gru ? [0, 1, 2] : [0, 3, 1, 2];
      const gates = order.length;
      const seq = g.one('Transpose', [last.name], [attr.ints('perm', [1, 0, 2])]);
      const inputs = [
        seq,
        g.floats(`${layer.kind}${index}_W`, [1, gates * u, features], recurrentWeights(w as Float32Array, features, u, order)),
        g.floats(`${layer.kind}${index}_R`, [1, gates * u, u], recurrentWeights(params[1] as Float32Array, u, u, order)),
      ];
      const bias = params[2];
      if (bias !== undefined) {
        // ONNX: [Wb, Rb]. Keras's GRU with resetAfter has both ([2, 3u]); otherwise one input bias, Rb = 0.
        const both = new Float32Array(2 * gates * u);
        if (gru && layer.resetAfter) both.set(bias);
        else both.set(reorderBlocks(bias, u, order));
        inputs.push(g.floats(`${layer.kind}${index}_B`, [1, 2 * gates * u], both));
      }
      const acts: (Activation | RecurrentActivation)[] = gru ? [layer.recurrentActivation, layer.activation] : [layer.recurrentActivation, layer.activation, layer.activation];
      const attributes = [attr.int('hidden_size', u), ...rnnActivations(acts)];
      if (gru) attributes.push(attr.int('linear_before_reset', layer.resetAfter ? 1 : 0));
      const [y, yh] = g.node(gru ? 'GRU' : 'LSTM', inputs, attributes, gru ? 2 : 3);
      if (!layer.returnSequences) {
        // Y_h [1, N, u] -> [N, u].
        return { name: g.one('Squeeze', [yh as string, g.int64s('axes', [0])]), shape: outShape, channelsFirst: false };
      }
      // Y [steps, 1, N, u] -> [N, steps, u].
      const squeezed = g.one('Squeeze', [y as string, g.int64s('axes', [1])]);
      return { name: g.one('Transpose', [squeezed], [attr.ints('perm', [1, 0, 2])]), shape: outShape, channelsFirst: false };
    }
  }
}
