/**
 * One thread of a `TrainerPool`: its own tfjs (backend chosen once, from `workerData`) and a
 * `LocalTrainer` (one `TaskModel`, for the task it last ran), running the jobs the pool posts.
 * Started by the pool from the compiled `dist/simulator/trainerWorker.js`; not meant to be imported.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LocalTrainer } from '../device-agent/trainer.js';
import { initBackend, type BackendName } from '../learning/index.js';
import type { Task } from '../protocol/index.js';
import type { PoolReply, PoolRequest, Spare, WorkerConfig } from './trainerPool.js';

if (parentPort === null) throw new Error('trainerWorker.js runs as a worker thread of TrainerPool');
const port = parentPort;
const config = workerData as WorkerConfig;
// The very trainer a device runs on its main thread, so results are bit-identical to it.
const trainer = new LocalTrainer();
/** The task the pool sent last; later jobs of the same task carry only its key. */
let current: { key: string; task: Task } | null = null;

// Every job waits for this: a backend that failed to load fails the job, never falls back
// silently (`TaskModel.create` alone would pick 'auto').
const backend: Promise<BackendName> = initBackend(config.backend);
backend.then(
  (name) => post({ type: 'ready', backend: name }),
  (error: unknown) => post({ type: 'init-failed', ...describe(error) }),
);

port.on('message', (request: PoolRequest) => {
  if (request.type !== 'train' && request.type !== 'evaluate') return;
  // The pool sends a job only to an idle worker, so jobs here never overlap. The job's
  // buffers go back as spares once the job is done with them (setWeights copies).
  const spare: Spare = { weights: request.weights.buffer as ArrayBuffer, x: request.x.buffer as ArrayBuffer, y: request.y.buffer as ArrayBuffer };
  const spareList = [spare.weights, spare.x, spare.y];
  void run(request, spare).then(
    (reply) => post(reply, reply.type === 'trained' ? [reply.outcome.weights.buffer as ArrayBuffer, ...spareList] : spareList),
    (error: unknown) => post({ type: 'failed', id: request.id, ...describe(error), spare }, spareList),
  );
});

async function run(request: PoolRequest, spare: Spare): Promise<Extract<PoolReply, { type: 'trained' | 'evaluated' }>> {
  if (request.task !== undefined) current = { key: request.key, task: request.task };
  if (current === null || current.key !== request.key) throw new Error('trainer worker: a job arrived for a task the pool never sent');
  await backend;
  const { task } = current;
  const data = { x: request.x, y: request.y, count: request.count };
  if (request.type === 'train') {
    const outcome = await trainer.train({ task, global: request.weights, data, options: request.options });
    return { type: 'trained', id: request.id, outcome, spare };
  }
  const result = await trainer.evaluate({ task, weights: request.weights, data });
  return { type: 'evaluated', id: request.id, result, spare };
}

function post(reply: PoolReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(reply, transfer);
}

function describe(error: unknown): { name: string; message: string } {
  return error instanceof Error ? { name: error.name, message: error.message } : { name: 'Error', message: String(error) };
}
