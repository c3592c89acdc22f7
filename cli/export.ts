import { randomBytes } from 'node:crypto';
import path from 'node:path';
import mqtt from 'mqtt';
import { loadCheckpoint } from '../aggregator/checkpoint.js';
import { loadTaskSource } from '../aggregator/index.js';
import { expandHome, loadSavedModel, modelFile } from '../device-agent/index.js';
import { exportOnnx, ONNX_INPUT, ONNX_IR_VERSION, ONNX_OPSET, ONNX_OUTPUT } from '../inference/index.js';
import { DEFAULT_FLEET, OptionsError, decodeGlobal, decodeMessage, fleetTopics, taskLayout, type GlobalMessage, type Task, type TaskMessage } from '../protocol/index.js';
import { writeFileAtomic } from '../storage/index.js';
import { UsageError, num, str, writableFile, type Command, type Flags } from './args.js';
import { formatBytes } from './format.js';
import { login, loginFlags } from './shared-flags.js';

/** How long `--broker` waits for the retained task and global by default. */
const DEFAULT_WAIT_S = 10;

/** A global with its task, and where it came from (for the printed line). */
interface Source {
  task: Task;
  weights: Float32Array;
  from: string;
}

export const exportCommand: Command = {
  name: 'export',
  summary: 'write a global model as ONNX (from a checkpoint, the broker\'s retained global, or a device\'s saved copy)',
  examples: [
    'npx fedmq export --onnx model.onnx --checkpoint run.ckpt --task occupancy.json',
    'npx fedmq export --onnx model.onnx --broker mqtt://hub.local:1883 --fleet lab',
    'npx fedmq export --onnx model.onnx --state-dir /var/lib/fedmq',
  ],
  flags: {
    onnx: { type: 'string', placeholder: 'FILE', description: 'the ONNX model to write (replaced atomically; required)' },
    checkpoint: { type: 'string', placeholder: 'FILE', description: "an aggregator's checkpoint (with --task)" },
    task: { type: 'string', placeholder: 'TASK', description: "with --checkpoint: the checkpoint's task (mlp, 2nn, cnn, a task .json or a TF.js model.json)" },
    broker: { type: 'string', placeholder: 'URL', description: 'read the retained task and global from this broker' },
    fleet: { type: 'string', placeholder: 'ID', description: 'with --broker: fleet id', default: DEFAULT_FLEET },
    wait: { type: 'string', placeholder: 'SECONDS', description: 'with --broker: how long to wait for the retained task and global', default: String(DEFAULT_WAIT_S) },
    'state-dir': { type: 'string', placeholder: 'DIR', description: "a device agent's state directory: the global it kept (model.safetensors)" },
    ...loginFlags,
  },

  async run(flags) {
    const out = str(flags, 'onnx');
    if (out === undefined) throw new UsageError('--onnx FILE is required');
    const unwritable = writableFile(out);
    if (unwritable !== undefined) throw new UsageError(`--onnx ${unwritable}`);
    const sources = (['checkpoint', 'broker', 'state-dir'] as const).filter((f) => flags[f] !== undefined);
    if (sources.length !== 1) {
      throw new UsageError(sources.length === 0 ? 'give the global to export: --checkpoint FILE --task TASK, --broker URL or --state-dir DIR' : `give one of --checkpoint, --broker and --state-dir, not ${sources.map((s) => `--${s}`).join(' and ')}`);
    }
    const source = sources[0] as (typeof sources)[number];
    if (flags.task !== undefined && source !== 'checkpoint') throw new UsageError('--task goes with --checkpoint (the broker and a saved copy carry their task)');
    for (const f of ['fleet', 'wait', 'username', 'password'] as const) {
      if (flags[f] !== undefined && source !== 'broker') throw new UsageError(`--${f} goes with --broker`);
    }
    const wait = num(flags, 'wait') ?? DEFAULT_WAIT_S;
    if (!(wait > 0 && wait <= 3600)) throw new UsageError(`--wait expects seconds in (0, 3600], got "${str(flags, 'wait')}"`);
    if (source === 'checkpoint' && flags.task === undefined) throw new UsageError('--checkpoint needs --task TASK: the checkpoint holds the weights, the task says what they are');

    const global = source === 'checkpoint' ? await fromCheckpoint(flags) : source === 'broker' ? await fromBroker(flags, wait * 1000) : await fromStateDir(str(flags, 'state-dir') as string);
    const bytes = exportOnnx(global.task, global.weights);
    await writeFileAtomic(path.resolve(out), bytes, 0o644);
    const layout = taskLayout(global.task);
    const outputs = layout.shapes[layout.shapes.length - 1] as number[];
    console.log(`task: ${global.task.name} from ${global.from}`);
    console.log(`parameters: ${layout.paramCount}`);
    console.log(`onnx: ${out}, ${bytes.byteLength} bytes (${formatBytes(bytes.byteLength)}), IR ${ONNX_IR_VERSION}, opset ${ONNX_OPSET}, ${ONNX_INPUT} [N, ${global.task.input.shape.join(', ')}] raw float32, ${ONNX_OUTPUT} [N, ${outputs.join(', ')}]`);
    return 0;
  },
};

async function fromCheckpoint(flags: Flags): Promise<Source> {
  const file = str(flags, 'checkpoint') as string;
  const loaded = await loadTaskSource(str(flags, 'task') as string);
  const saved = await loadCheckpoint(file, loaded.task.name, taskLayout(loaded.task).paramCount);
  if (saved === null) throw new OptionsError('checkpoint', `${file}: no such file`);
  return { task: loaded.task, weights: saved.weights, from: `checkpoint ${file} (round ${saved.round}, global v${saved.version}; ${loaded.source})` };
}

async function fromStateDir(dir: string): Promise<Source> {
  const stateDir = expandHome(dir);
  const saved = await loadSavedModel(stateDir);
  if (saved === null) throw new OptionsError('state-dir', `no model in ${modelFile(stateDir)}: an agent with --state-dir ${dir} keeps the global once it has one with its task`);
  return { task: saved.task, weights: saved.weights, from: `${modelFile(stateDir)} (global v${saved.version}, round ${saved.round})` };
}

/**
 * The retained task and global of a fleet, checked as a device checks them: the task whole
 * (decodeMessage parses it), its parameter count against its layout, the global's length and
 * its SHA-256 (decodeGlobal). Read only: this client publishes nothing.
 */
async function fromBroker(flags: Flags, waitMs: number): Promise<Source> {
  const url = str(flags, 'broker') as string;
  const topics = fleetTopics(str(flags, 'fleet') ?? DEFAULT_FLEET);
  const client = mqtt.connect(url, {
    clientId: `fedmq-export-${randomBytes(4).toString('hex')}`,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: waitMs,
    ...login(flags),
  });
  try {
    return await new Promise<Source>((resolve, reject) => {
      let task: TaskMessage | null = null;
      let global: GlobalMessage | null = null;
      let problem: string | null = null;
      const timer = setTimeout(() => {
        const missing = [task === null && `task (${topics.task})`, global === null && `global (${topics.global})`].filter(Boolean).join(' and ');
        reject(new OptionsError('broker', `${url}: ${problem ?? `no retained ${missing}`} after ${waitMs / 1000} s${problem === null ? `: is an aggregator running for fleet ${topics.fleet}?` : ''}`));
      }, waitMs);
      const fail = (e: Error): void => {
        clearTimeout(timer);
        reject(e);
      };
      const settle = (): void => {
        if (task === null || global === null) return;
        if (taskLayout(task.task).paramCount !== task.paramCount) {
          return fail(new OptionsError('broker', `the retained task announces ${task.paramCount} parameters, its layers have ${taskLayout(task.task).paramCount}`));
        }
        let weights: Float32Array;
        try {
          weights = decodeGlobal(global, task.paramCount);
        } catch (e) {
          // A global of the task before this one (an aggregator restarting) or a corrupt copy: wait for the next.
          problem = `the retained global v${global.version} does not fit the task: ${(e as Error).message}`;
          global = null;
          return;
        }
        clearTimeout(timer);
        resolve({ task: task.task, weights, from: `${url} fleet ${topics.fleet} (global v${global.version}, round ${global.round}, sha256 verified)` });
      };
      client.on('error', (e) => fail(new OptionsError('broker', `${url}: ${e.message}`, { cause: e })));
      client.on('connect', () => {
        client.subscribe([topics.task, topics.global], { qos: 1 }, (error, granted) => {
          if (error) return fail(new OptionsError('broker', `${url}: subscribe: ${error.message}`, { cause: error }));
          const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
          if (refused.length > 0) fail(new OptionsError('broker', `${url}: the broker refused to let this login read ${refused.join(', ')}`));
        });
      });
      client.on('message', (topic, payload) => {
        if (payload.byteLength === 0) return;
        try {
          if (topic === topics.task) task = decodeMessage('task', payload);
          else if (topic === topics.global) global = decodeMessage('global', payload);
          else return;
        } catch (e) {
          return fail(new OptionsError('broker', `${url}: the retained ${topic === topics.task ? 'task' : 'global'} does not decode: ${(e as Error).message}`, { cause: e }));
        }
        settle();
      });
    });
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
}
