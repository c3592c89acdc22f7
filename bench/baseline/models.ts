/**
 * The retired model zoo as plain data: architectures, parameter shapes and their order in the
 * flat weight vector. Kept only for bench/baseline/ (LocalModel, the speed baseline of
 * bench/task-speed.ts and the reference of TaskModel's built-in-task tests); fedmq itself
 * describes models as tasks (protocol/task.ts `builtinTask`, `taskLayout`).
 */

export const MODEL_NAMES = ['mlp', '2nn', 'cnn'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export function isModelName(s: string): s is ModelName {
  return (MODEL_NAMES as readonly string[]).includes(s);
}

/** MNIST: 28x28 grey pixels in [0, 1], ten digit classes. */
export const IMAGE_SIZE = 28;
export const PIXELS = IMAGE_SIZE * IMAGE_SIZE;
export const NUM_CLASSES = 10;

export type LayerSpec =
  | { kind: 'dense'; units: number; activation: 'relu' | 'linear' }
  | { kind: 'conv2d'; filters: number; kernelSize: number; activation: 'relu' }
  | { kind: 'maxPool'; poolSize: number }
  | { kind: 'flatten' };

export interface ModelSpec {
  /** Shape of one example, without the batch dimension: always 28x28x1 (`PIXELS` values). */
  inputShape: number[];
  layers: LayerSpec[];
}

/** One trainable tensor, in flat-vector order (per layer: kernel, then bias, as Keras orders them). */
export interface ParamSpec {
  role: 'kernel' | 'bias';
  shape: number[];
  size: number;
  /** Glorot fan-in and fan-out (Glorot & Bengio 2010); receptive field times channels for convolutions. */
  fanIn: number;
  fanOut: number;
}

export interface ModelInfo {
  name: ModelName;
  inputShape: number[];
  numClasses: number;
  paramCount: number;
}

const SPECS: Record<ModelName, ModelSpec> = {
  mlp: {
    inputShape: [IMAGE_SIZE, IMAGE_SIZE, 1],
    layers: [{ kind: 'flatten' }, dense(128, 'relu'), dense(NUM_CLASSES, 'linear')],
  },
  // "2NN" of McMahan et al. 2017, "Communication-Efficient Learning of Deep Networks from Decentralized Data", §3.
  '2nn': {
    inputShape: [IMAGE_SIZE, IMAGE_SIZE, 1],
    layers: [{ kind: 'flatten' }, dense(200, 'relu'), dense(200, 'relu'), dense(NUM_CLASSES, 'linear')],
  },
  // "CNN" of the same paper: two 5x5 convolutions (32, 64 channels) each followed by 2x2 max
  // pooling, a 512-unit dense layer and softmax; 1,663,370 parameters.
  cnn: {
    inputShape: [IMAGE_SIZE, IMAGE_SIZE, 1],
    layers: [
      { kind: 'conv2d', filters: 32, kernelSize: 5, activation: 'relu' },
      { kind: 'maxPool', poolSize: 2 },
      { kind: 'conv2d', filters: 64, kernelSize: 5, activation: 'relu' },
      { kind: 'maxPool', poolSize: 2 },
      { kind: 'flatten' },
      dense(512, 'relu'),
      dense(NUM_CLASSES, 'linear'),
    ],
  },
};

function dense(units: number, activation: 'relu' | 'linear'): LayerSpec {
  return { kind: 'dense', units, activation };
}

export function modelSpec(name: ModelName): ModelSpec {
  return SPECS[name];
}

/** Trainable tensors of a model in flat-vector order, with shapes inferred layer by layer. */
export function paramSpecs(name: ModelName): ParamSpec[] {
  const spec = SPECS[name];
  const params: ParamSpec[] = [];
  let shape = [...spec.inputShape];
  for (const layer of spec.layers) {
    switch (layer.kind) {
      case 'dense': {
        const inputs = shape.reduce((a, b) => a * b, 1);
        params.push(param('kernel', [inputs, layer.units], inputs, layer.units));
        params.push(param('bias', [layer.units], 0, 0));
        shape = [layer.units];
        break;
      }
      case 'conv2d': {
        // 'same' padding, stride 1: spatial size is kept. Kernel layout HWIO, as tf.conv2d takes it.
        const [h = 0, w = 0, channels = 0] = shape;
        const field = layer.kernelSize * layer.kernelSize;
        params.push(param('kernel', [layer.kernelSize, layer.kernelSize, channels, layer.filters], field * channels, field * layer.filters));
        params.push(param('bias', [layer.filters], 0, 0));
        shape = [h, w, layer.filters];
        break;
      }
      case 'maxPool': {
        const [h = 0, w = 0, channels = 0] = shape;
        shape = [Math.floor(h / layer.poolSize), Math.floor(w / layer.poolSize), channels];
        break;
      }
      case 'flatten':
        shape = [shape.reduce((a, b) => a * b, 1)];
        break;
    }
  }
  return params;
}

function param(role: ParamSpec['role'], shape: number[], fanIn: number, fanOut: number): ParamSpec {
  return { role, shape, size: shape.reduce((a, b) => a * b, 1), fanIn, fanOut };
}

/** Name, input shape, classes and parameter count of a model; pure, no tfjs needed. */
export function modelInfo(name: ModelName): ModelInfo {
  if (!isModelName(name)) throw new TypeError(`unknown model "${String(name)}"`);
  const paramCount = paramSpecs(name).reduce((sum, p) => sum + p.size, 0);
  return { name, inputShape: [...SPECS[name].inputShape], numClasses: NUM_CLASSES, paramCount };
}

/** True for a flatten then dense layers only, so the hand-written backward pass applies. */
export function isDenseOnly(name: ModelName): boolean {
  return SPECS[name].layers.every((layer) => layer.kind === 'dense' || layer.kind === 'flatten');
}
