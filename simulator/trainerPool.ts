import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { FedmqError, OptionsError } from '../protocol/index.js';
import type { BackendName, ModelName, TrainOptions } from '../learning/index.js';
import type { Trainer, TrainJob, TrainOutcome } from '../device-agent/index.js';

const BACKENDS: readonly (BackendName | 'auto')[] = ['auto', 'tensorflow', 'wasm', 'cpu'];
export const DEFAULT_POOL_BACKEND = 'auto';

export interface TrainerPoolOptions {
  /** Worker threads, each with its own tfjs and one model per architecture. @default os.availableParallelism() */
  workers: number;
  /** tfjs backend every worker loads; auto tries tensorflow (tfjs-node), then wasm, then cpu. @default 'auto' */
  backend: BackendName | 'auto';
  /** The worker script. @default trainerWorkerUrl(): the compiled `dist/simulator/trainerWorker.js` */
  workerUrl: URL;
}

export function defaultTrainerPoolOptions(): TrainerPoolOptions {
  return { workers: os.availableParallelism(), backend: DEFAULT_POOL_BACKEND, workerUrl: trainerWorkerUrl() };
}

/** Fills in defaults and validates once; throws `OptionsError`. */
export function parseTrainerPoolOptions(partial: Partial<TrainerPoolOptions> = {}): TrainerPoolOptions {
  const defaults = defaultTrainerPoolOptions();
  const o: TrainerPoolOptions = {
    workers: partial.workers ?? defaults.workers,
    backend: partial.backend ?? defaults.backend,
    workerUrl: partial.workerUrl ?? defaults.workerUrl,
  };
  if (!Number.isInteger(o.workers) || o.workers < 1 || o.workers > 256) {
    throw new OptionsError('workers', `must be an integer in [1, 256], got ${o.workers}`);
  }
  if (!BACKENDS.includes(o.backend)) throw new OptionsError('backend', `must be ${BACKENDS.join(', ')}, got ${String(o.backend)}`);
  const file = fileURLToPath(o.workerUrl);
  if (!existsSync(file)) throw new OptionsError('workerUrl', `${file} does not exist (build it with npm run build)`);
  return o;
}

/**
 * Where the worker script is: beside this module once compiled (`dist/simulator/`). Worker
 * threads cannot load TypeScript, so when this module runs from its `.ts` source (vitest,
 * whose global setup builds dist first) the compiled twin in `dist/` is used.
 */
export function trainerWorkerUrl(moduleUrl: string = import.meta.url): URL {
  return moduleUrl.endsWith('.ts') ? new URL('../dist/simulator/trainerWorker.js', moduleUrl) : new URL('./trainerWorker.js', moduleUrl);
}

/** `train` after `dispose`, or a job still queued or running when the pool was disposed. */
export class TrainerPoolDisposedError extends FedmqError {
  override name = 'TrainerPoolDisposedError';
  constructor() {
    super('trainer pool is disposed');
  }
}

/** A job threw in its worker; the message is the worker's, `remoteName` the class it threw. */
export class TrainerJobError extends FedmqError {
  override name = 'TrainerJobError';
  constructor(
    readonly remoteName: string,
    message: string,
  ) {
    super(message);
  }
}

/** A worker thread ended while it held a job (crash, out of memory, `process.exit`). */
export class TrainerWorkerExitError extends FedmqError {
  override name = 'TrainerWorkerExitError';
  constructor(
    readonly exitCode: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Sent once to each worker as `workerData`. */
export interface WorkerConfig {
  backend: BackendName | 'auto';
}

/** Pool to worker. */
export type PoolRequest = {
  type: 'train';
  id: number;
  model: ModelName;
  global: Float32Array;
  x: Float32Array;
  y: Uint8Array;
  count: number;
  options: TrainOptions;
};

/** Worker to pool. */
export type PoolReply =
  | { type: 'ready'; backend: BackendName }
  | { type: 'init-failed'; name: string; message: string }
  | { type: 'trained'; id: number; weights: Float32Array; loss: number; accuracy: number; ms: number; spare: Spare }
  | { type: 'failed'; id: number; name: string; message: string; spare: Spare };

/**
 * A job's buffers, handed back by the worker for the next job. Copying into a buffer that
 * exists costs ~0.2 ms for 600 MNIST examples and a 2nn global; allocating fresh ones cost
 * 3-10 ms on the test VM (page faults), on the main thread that also runs the broker and the
 * aggregator (bench/trainer-pool.ts measures both).
 */
export interface Spare {
  global: ArrayBuffer;
  x: ArrayBuffer;
  y: ArrayBuffer;
}

interface Pending {
  id: number;
  job: TrainJob;
  resolve: (outcome: TrainOutcome) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Pending | null;
  /** Settles when the worker has loaded its backend; never rejects unobserved. */
  ready: Promise<BackendName>;
  started: boolean;
  stopping: boolean;
  error: Error | null;
  spare: Spare | null;
}

/**
 * Trains on a pool of `worker_threads`, each with its own tfjs, shared by any number of
 * devices: a job goes to an idle worker, else waits in FIFO order. Results are bit-identical to
 * `LocalTrainer`'s on the same backend (same code, same seeds, one job per model at a time). Idle workers do not
 * keep the process alive.
 */
export class TrainerPool implements Trainer {
  readonly options: TrainerPoolOptions;
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private disposed = false;
  /** Set when a worker dies before it ever started: respawning would only loop. */
  private broken: Error | null = null;

  constructor(options: Partial<TrainerPoolOptions> = {}) {
    this.options = parseTrainerPoolOptions(options);
    for (let i = 0; i < this.options.workers; i++) this.slots.push(this.spawn(i));
  }

  /** Worker threads in the pool. */
  get size(): number {
    return this.slots.length;
  }

  /** Jobs waiting for an idle worker. */
  get queued(): number {
    return this.queue.length;
  }

  /** The backend each worker loaded, once all have; rejects with `TrainerJobError` if one could not. */
  ready(): Promise<BackendName[]> {
    return Promise.all(this.slots.map((s) => s.ready));
  }

  train(job: TrainJob): Promise<TrainOutcome> {
    if (this.disposed) return Promise.reject(new TrainerPoolDisposedError());
    if (this.broken) return Promise.reject(this.broken);
    return new Promise<TrainOutcome>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, job, resolve, reject });
      this.dispatch();
    });
  }

  /** Terminates the workers; queued and running jobs reject with `TrainerPoolDisposedError`. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.rejectQueue(new TrainerPoolDisposedError());
    for (const slot of this.slots) {
      slot.stopping = true;
      slot.job?.reject(new TrainerPoolDisposedError());
      slot.job = null;
      void slot.worker.terminate();
    }
  }

  private spawn(index: number): Slot {
    const workerData: WorkerConfig = { backend: this.options.backend };
    const worker = new Worker(this.options.workerUrl, { workerData });
    let settle!: { resolve: (b: BackendName) => void; reject: (e: Error) => void };
    const ready = new Promise<BackendName>((resolve, reject) => (settle = { resolve, reject }));
    ready.catch(() => undefined);
    const slot: Slot = { worker, job: null, ready, started: false, stopping: false, error: null, spare: null };
    worker.on('message', (reply: PoolReply) => {
      if (reply.type === 'ready' || reply.type === 'init-failed') {
        slot.started = true;
        // Started: from now on an idle worker must not hold the process open.
        if (slot.job === null) worker.unref();
        if (reply.type === 'ready') settle.resolve(reply.backend);
        else settle.reject(new TrainerJobError(reply.name, reply.message));
        return;
      }
      const pending = slot.job;
      if (pending === null || pending.id !== reply.id) return;
      slot.job = null;
      slot.spare = reply.spare ?? null;
      worker.unref();
      if (reply.type === 'trained') pending.resolve({ weights: reply.weights, loss: reply.loss, accuracy: reply.accuracy, ms: reply.ms });
      else pending.reject(new TrainerJobError(reply.name, reply.message));
      this.dispatch();
    });
    worker.on('error', (error) => (slot.error = error));
    worker.on('exit', (code) => {
      if (slot.stopping) return;
      const reason = slot.error ? `: ${slot.error.message}` : '';
      const error = new TrainerWorkerExitError(code, `trainer worker ${index} exited with code ${code}${reason}`, { cause: slot.error ?? undefined });
      settle.reject(error);
      slot.job?.reject(error);
      slot.job = null;
      if (this.disposed) return;
      if (!slot.started) {
        // It never loaded (bad script, broken install): every replacement would die the same way.
        this.broken = error;
        this.rejectQueue(error);
        return;
      }
      this.slots[index] = this.spawn(index);
      this.dispatch();
    });
    // Referenced while it starts, so that awaiting `ready()` keeps the process alive; unref'd
    // once ready and idle (a running job refs its worker again).
    return slot;
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const slot = this.slots.find((s) => s.job === null && !s.stopping);
      if (slot === undefined) return;
      const pending = this.queue.shift() as Pending;
      const { job } = pending;
      try {
        // Copies, so the caller keeps its arrays (the agent needs the global for its delta),
        // into the worker's spare buffers when it has them; transferred, not cloned again.
        const global = copyInto(Float32Array, slot.spare?.global, job.global);
        const x = copyInto(Float32Array, slot.spare?.x, job.data.x);
        const y = copyInto(Uint8Array, slot.spare?.y, job.data.y);
        slot.spare = null;
        const request: PoolRequest = { type: 'train', id: pending.id, model: job.model, global, x, y, count: job.data.count, options: job.options };
        slot.worker.postMessage(request, [global.buffer as ArrayBuffer, x.buffer as ArrayBuffer, y.buffer as ArrayBuffer]);
      } catch (error) {
        pending.reject(error instanceof Error ? error : new Error(String(error)));
        continue;
      }
      slot.job = pending;
      slot.worker.ref();
    }
  }

  private rejectQueue(error: Error): void {
    for (const pending of this.queue.splice(0)) pending.reject(error);
  }
}

/** A copy of `source` in `spare` when it is large enough, else in a new buffer. */
function copyInto<T extends Float32Array | Uint8Array>(
  Kind: { new (buffer: ArrayBuffer, offset: number, length: number): T; BYTES_PER_ELEMENT: number },
  spare: ArrayBuffer | undefined,
  source: ArrayLike<number>,
): T {
  const bytes = source.length * Kind.BYTES_PER_ELEMENT;
  const copy = new Kind(spare !== undefined && spare.byteLength >= bytes ? spare : new ArrayBuffer(bytes), 0, source.length);
  copy.set(source);
  return copy;
}
