/**
 * One thread of a `TrainerPool`: its own tfjs (backend chosen once, from `workerData`) and one
 * `LocalModel` per architecture, trained on the jobs the pool posts. Started by the pool from
 * the compiled `dist/simulator/trainerWorker.js`; not meant to be imported.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend, LocalModel, type BackendName, type ModelName } from '../learning/index.js';
import type { PoolRequest, PoolReply, Spare, WorkerConfig } from './trainerPool.js';

if (parentPort === null) throw new Error('trainerWorker.js runs as a worker thread of TrainerPool');
const port = parentPort;
const config = workerData as WorkerConfig;
const models = new Map<ModelName, Promise<LocalModel>>();

// Every job waits for this: a backend that failed to load fails the job, never falls back
// silently (`LocalModel.create` alone would pick 'auto').
const backend: Promise<BackendName> = initBackend(config.backend);
backend.then(
  (name) => post({ type: 'ready', backend: name }),
  (error: unknown) => post({ type: 'init-failed', ...describe(error) }),
);

port.on('message', (request: PoolRequest) => {
  if (request.type !== 'train') return;
  // The pool sends a job only to an idle worker, so jobs here never overlap. The job's
  // buffers go back as spares once training is done with them (setWeights copies).
  const spare: Spare = { global: request.global.buffer as ArrayBuffer, x: request.x.buffer as ArrayBuffer, y: request.y.buffer as ArrayBuffer };
  const spareList = [spare.global, spare.x, spare.y];
  void run(request, spare).then(
    (reply) => post(reply, [reply.weights.buffer as ArrayBuffer, ...spareList]),
    (error: unknown) => post({ type: 'failed', id: request.id, ...describe(error), spare }, spareList),
  );
});

/** What `LocalTrainer` does on the main thread, step for step, so results are bit-identical. */
async function run(request: Extract<PoolRequest, { type: 'train' }>, spare: Spare): Promise<Extract<PoolReply, { type: 'trained' }>> {
  await backend;
  const m = await model(request.model);
  m.setWeights(request.global);
  const result = await m.train({ x: request.x, y: request.y, count: request.count }, request.options);
  return { type: 'trained', id: request.id, weights: m.getWeights(), loss: result.loss, accuracy: result.accuracy, ms: result.ms, spare };
}

function model(name: ModelName): Promise<LocalModel> {
  const existing = models.get(name);
  if (existing) return existing;
  const created = LocalModel.create(name);
  models.set(name, created);
  // A model that failed to build (unknown name) is not cached, so the next job reports it again.
  created.catch(() => models.delete(name));
  return created;
}

function post(reply: PoolReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(reply, transfer);
}

function describe(error: unknown): { name: string; message: string } {
  return error instanceof Error ? { name: error.name, message: error.message } : { name: 'Error', message: String(error) };
}
