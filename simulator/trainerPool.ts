import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { FedmqError, OptionsError, type Task } from '../protocol/index.js';
import { TrainingStoppedError, type BackendName, type TaskData, type TaskEvalResult, type TaskTrainOptions } from '../learning/index.js';
import { taskKey, type EvalJob, type Trainer, type TrainJob, type TrainOutcome } from '../device-agent/trainer.js';

const BACKENDS: readonly (BackendName | 'auto')[] = ['auto', 'tensorflow', 'wasm', 'cpu'];
export const DEFAULT_POOL_BACKEND = 'auto';

export interface TrainerPoolOptions {
  /** Worker threads, each with its own tfjs and the model of the task it last ran. @default os.availableParallelism() */
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

/** A job's typed arrays: the global to train from or the weights to evaluate, and the data. */
interface JobArrays {
  id: number;
  /** `taskKey(task)` of the job's task. */
  key: string;
  /**
   * The task itself, sent only when the worker does not hold it yet (its last job had another
   * key, or failed): a worker keeps one task and its model, as `LocalTrainer` does.
   */
  task?: Task;
  weights: Float32Array;
  x: Float32Array;
  y: TaskData['y'];
  count: number;
}

/** Pool to worker. */
export type PoolRequest = (JobArrays & { type: 'train'; options: TaskTrainOptions }) | (JobArrays & { type: 'evaluate' });

/** Worker to pool. */
export type PoolReply =
  | { type: 'ready'; backend: BackendName }
  | { type: 'init-failed'; name: string; message: string }
  | { type: 'trained'; id: number; outcome: TrainOutcome; spare: Spare }
  | { type: 'evaluated'; id: number; result: TaskEvalResult; spare: Spare }
  | { type: 'failed'; id: number; name: string; message: string; spare: Spare };

/**
 * A job's buffers, handed back by the worker for the next job. Copying into a buffer that
 * exists costs ~0.2 ms for 600 MNIST examples and a 2nn global; allocating fresh ones cost
 * 3-10 ms on the test VM (page faults), on the main thread that also runs the broker and the
 * aggregator (bench/trainer-pool.ts measures both).
 */
export interface Spare {
  weights: ArrayBuffer;
  x: ArrayBuffer;
  y: ArrayBuffer;
}

type Done = Extract<PoolReply, { type: 'trained' | 'evaluated' }>;

interface Pending {
  id: number;
  type: PoolRequest['type'];
  task: Task;
  weights: Float32Array;
  data: TaskData;
  options: TaskTrainOptions | null;
  signal: AbortSignal | undefined;
  resolve: (reply: Done) => void;
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
  /** `taskKey` of the task the worker holds (sent with an earlier job), or null. */
  taskKey: string | null;
}

/**
 * Trains and evaluates on a pool of `worker_threads`, each with its own tfjs, shared by any
 * number of devices: a job (train or evaluate) goes to an idle worker, else waits in FIFO
 * order. Each worker runs a `LocalTrainer`, so results are bit-identical to `LocalTrainer`'s on
 * the same backend (same code, same seeds, one job per model at a time). A train job whose
 * signal has aborted by the time a worker is free rejects with `TrainingStoppedError` without
 * running; a running job is not stopped. Idle workers do not keep the process alive.
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
    return this.enqueue('train', job.task, job.global, job.data, job.options, job.signal).then((reply) => (reply as Extract<Done, { type: 'trained' }>).outcome);
  }

  evaluate(job: EvalJob): Promise<TaskEvalResult> {
    return this.enqueue('evaluate', job.task, job.weights, job.data, null, undefined).then((reply) => (reply as Extract<Done, { type: 'evaluated' }>).result);
  }

  private enqueue(type: Pending['type'], task: Task, weights: Float32Array, data: TaskData, options: TaskTrainOptions | null, signal: AbortSignal | undefined): Promise<Done> {
    if (this.disposed) return Promise.reject(new TrainerPoolDisposedError());
    if (this.broken) return Promise.reject(this.broken);
    return new Promise<Done>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, type, task, weights, data, options, signal, resolve, reject });
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
    const slot: Slot = { worker, job: null, ready, started: false, stopping: false, error: null, spare: null, taskKey: null };
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
      if (reply.type === 'failed') {
        // The worker may have dropped its task (a model that failed to build): send it again.
        slot.taskKey = null;
        pending.reject(new TrainerJobError(reply.name, reply.message));
      } else {
        pending.resolve(reply);
      }
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
      if (pending.type === 'train' && pending.signal?.aborted) {
        // Its deadline passed while it waited: as LocalTrainer does, refuse it before any step.
        pending.reject(new TrainingStoppedError(0));
        continue;
      }
      try {
        const key = taskKey(pending.task);
        // Copies, so the caller keeps its arrays (the agent needs the global for its delta),
        // into the worker's spare buffers when it has them; transferred, not cloned again.
        const weights = copyInto(Float32Array, slot.spare?.weights, pending.weights);
        const x = copyInto(Float32Array, slot.spare?.x, pending.data.x);
        const y = copyInto(pending.data.y.constructor as TypedArrayKind<TaskData['y']>, slot.spare?.y, pending.data.y);
        slot.spare = null;
        const arrays: JobArrays = { id: pending.id, key, weights, x, y, count: pending.data.count };
        if (slot.taskKey !== key) arrays.task = pending.task;
        const request: PoolRequest = pending.type === 'train' ? { ...arrays, type: 'train', options: pending.options as TaskTrainOptions } : { ...arrays, type: 'evaluate' };
        slot.worker.postMessage(request, [weights.buffer as ArrayBuffer, x.buffer as ArrayBuffer, y.buffer as ArrayBuffer]);
        slot.taskKey = key;
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

type TypedArrayKind<T> = { new (buffer: ArrayBuffer, offset: number, length: number): T; BYTES_PER_ELEMENT: number };

/** A copy of `source` in `spare` when it is large enough, else in a new buffer. */
function copyInto<T extends Float32Array | TaskData['y']>(Kind: TypedArrayKind<T>, spare: ArrayBuffer | undefined, source: ArrayLike<number>): T {
  const bytes = source.length * Kind.BYTES_PER_ELEMENT;
  const copy = new Kind(spare !== undefined && spare.byteLength >= bytes ? spare : new ArrayBuffer(bytes), 0, source.length);
  copy.set(source);
  return copy;
}
