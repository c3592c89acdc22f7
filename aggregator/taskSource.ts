import { readFile } from 'node:fs/promises';
import { OptionsError, builtinTask, isBuiltinTaskName, parseTask, type Task } from '../protocol/index.js';
import { importKerasModel } from '../learning/index.js';
import path from 'node:path';

/** What `--task` names, loaded: the task, and for an imported model its weights (the initial global). */
export interface TaskSource {
  task: Task;
  /** A TensorFlow.js layers model's weights, in the task's flat order. */
  weights?: Float32Array;
  /** `builtin:mlp`, `task:FILE` or `keras:FILE`, for reports. */
  source: string;
  /** What the import derived or assumed (e.g. the output kind from the loss). */
  notes: string[];
}

/**
 * Loads a `--task` value: a built-in name (`mlp`, `2nn`, `cnn`), a task file (JSON, checked
 * whole by `parseTask`), or a TensorFlow.js layers model (`model.json` with its weight shards,
 * what `tensorflowjs_converter` writes from Keras), whose architecture becomes the task and
 * whose weights the initial global. Throws `OptionsError` naming the file and what is wrong.
 */
export async function loadTaskSource(spec: string): Promise<TaskSource> {
  if (isBuiltinTaskName(spec)) return { task: builtinTask(spec), source: `builtin:${spec}`, notes: [] };
  let text: string;
  try {
    text = await readFile(spec, 'utf8');
  } catch (cause) {
    throw new OptionsError('task', `${spec}: cannot read (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}); expected mlp, 2nn, cnn, a task .json file or a TensorFlow.js model.json`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new OptionsError('task', `${spec}: not JSON (${(cause as Error).message})`, { cause });
  }
  const isModel = typeof json === 'object' && json !== null && 'modelTopology' in json;
  try {
    if (!isModel) return { task: parseTask(json), source: `task:${spec}`, notes: [] };
    const shards: Uint8Array[] = [];
    for (const group of manifest(json as object)) {
      for (const p of group.paths) shards.push(await readFile(path.resolve(path.dirname(spec), p)));
    }
    const imported = importKerasModel(json, shards);
    return { task: imported.task, weights: imported.weights, source: `keras:${spec}`, notes: imported.notes };
  } catch (cause) {
    if (cause instanceof OptionsError) throw new OptionsError('task', `${spec}: ${cause.message.replace(/^task[.:]\s*/, '')}`, { cause });
    throw cause;
  }
}

function manifest(json: object): { paths: string[] }[] {
  const m = (json as { weightsManifest?: unknown }).weightsManifest;
  if (!Array.isArray(m)) throw new OptionsError('task', 'weightsManifest: missing (a TensorFlow.js layers model lists its weight files there)');
  return m.map((g: unknown, i) => {
    const paths = (g as { paths?: unknown }).paths;
    if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string' && !path.isAbsolute(p) && !p.split(/[\\/]/).includes('..'))) {
      throw new OptionsError('task', `weightsManifest[${i}].paths: must list weight files beside model.json`);
    }
    return { paths: paths as string[] };
  });
}
