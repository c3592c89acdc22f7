import http from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { OptionsError, TypedEmitter } from '../protocol/index.js';
import type { SavedModel } from './modelStore.js';
import { PredictInputError, flatExamples, predictions } from './predictInputs.js';
import { describeRuntime, type Predictor } from './predictor.js';

/** Most bytes of a `POST /predict` body. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 2 ** 20;
/** Most examples in one `POST /predict`. */
export const DEFAULT_MAX_EXAMPLES = 1024;

export interface ServeAddress {
  host: string;
  port: number;
}

export interface PredictServerOptions extends ServeAddress {
  /** Builds the predictor of a model (the agent passes `openPredictor` with its `--runtime`). */
  open: (model: SavedModel) => Promise<Predictor>;
  /** @default DEFAULT_MAX_BODY_BYTES */
  maxBodyBytes?: number;
  /** @default DEFAULT_MAX_EXAMPLES */
  maxExamples?: number;
}

/**
 * `HOST:PORT`, `[IPv6]:PORT` or a port alone (then 127.0.0.1). A host that is not a loopback
 * address (127.0.0.0/8, ::1, localhost) is refused unless `allowPublic`: the server answers
 * anyone who reaches it, with no login.
 */
export function parseServeAddress(text: string, allowPublic = false): ServeAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim()) ?? /^()()(\d{1,5})$/.exec(text.trim());
  if (!m) throw new OptionsError('serve', `must be HOST:PORT (e.g. 127.0.0.1:8080), got "${text}"`);
  const host = m[1] || m[2] || '127.0.0.1';
  const port = Number(m[3]);
  if (port > 65535) throw new OptionsError('serve', `port ${port} is not in [0, 65535]`);
  if (host !== 'localhost' && isIP(host) === 0) throw new OptionsError('serve', `"${host}" is not an IP address or localhost`);
  if (!allowPublic && !isLoopback(host)) {
    throw new OptionsError('serve', `${host} is not a loopback address: anyone who reaches it could use the model; give --serve-public to serve on it anyway`);
  }
  return { host, port };
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  const v4 = host.startsWith('::ffff:') ? host.slice(7) : host;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

export type PredictServerEvents = {
  /** A new model answers from now on. */
  serving: [info: { version: number; runtime: string }];
  /** A model could not be loaded (the previous one, if any, goes on answering). */
  warning: [error: Error];
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The device's own apps ask it for predictions: `POST /predict` with `{"inputs": [[...], ...]}`
 * (flat examples, each of the task's input size, every value finite; at most `maxExamples`, a
 * body of at most `maxBodyBytes`) answers `{"outputs": [[...], ...], "version", "runtime"}` (plus
 * `classes` or `labels` for a classification or binary task); `GET /health` says whether a model
 * is held. Both answer 503 until one is. Errors are JSON `{"error": "..."}` with a 4xx status.
 * Predictions run one at a time; a new model (`use`) takes over once its predictor is built.
 */
export class PredictServer extends TypedEmitter<PredictServerEvents> {
  private readonly server: http.Server;
  private readonly maxBodyBytes: number;
  private readonly maxExamples: number;
  private current: { model: SavedModel; predictor: Predictor } | null = null;
  /** Predictions and model swaps, one at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  private wanted: SavedModel | null = null;

  constructor(private readonly options: PredictServerOptions) {
    super();
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.maxExamples = options.maxExamples ?? DEFAULT_MAX_EXAMPLES;
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.requestTimeout = 30_000;
    this.server.headersTimeout = 10_000;
  }

  /** Listens; resolves with the bound address (port 0 picks a free one). */
  async listen(): Promise<ServeAddress> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    return { host: address.address, port: address.port };
  }

  /** The model held now, if any. */
  get model(): SavedModel | null {
    return this.current?.model ?? null;
  }

  /**
   * Answers with `model` from now on, once its predictor is built; the old predictor is disposed
   * after the predictions already queued. When models come faster than predictors build, only the
   * newest is built. A model that fails to load is a `warning`; the old one goes on answering.
   */
  use(model: SavedModel): Promise<void> {
    this.wanted = model;
    return this.serially(async () => {
      if (this.wanted !== model) return;
      this.wanted = null;
      let predictor: Predictor;
      try {
        predictor = await this.options.open(model);
      } catch (error) {
        this.emit('warning', error as Error);
        return;
      }
      const old = this.current;
      this.current = { model, predictor };
      await old?.predictor.dispose().catch((e: Error) => this.emit('warning', e));
      this.emit('serving', { version: model.version, runtime: describeRuntime(predictor) });
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.serially(async () => {
      await this.current?.predictor.dispose();
      this.current = null;
    });
  }

  private serially<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname === '/health') {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed(res, 'GET');
        const held = this.current;
        if (!held) return send(res, 503, { ready: false, error: 'no model yet: the device has not received a global with its task' });
        return send(res, 200, { ready: true, version: held.model.version, round: held.model.round, sha256: held.model.sha256, task: held.model.task.name, runtime: held.predictor.runtime });
      }
      if (url.pathname !== '/predict') throw new HttpError(404, `no ${url.pathname}: POST /predict or GET /health`);
      if (req.method !== 'POST') throw methodNotAllowed(res, 'POST');
      const type = req.headers['content-type'];
      if (type !== undefined && !/^application\/json\s*(;|$)/i.test(type)) throw new HttpError(415, 'the body must be application/json');
      const body = await this.readBody(req);
      if (!this.current) throw new HttpError(503, 'no model yet: the device has not received a global with its task');
      const inputs = this.inputsOf(body);
      const answer = await this.serially(async () => {
        const held = this.current!;
        const task = held.model.task;
        const examples = (() => {
          try {
            return flatExamples(inputs, task, (i) => `inputs[${i}]`);
          } catch (e) {
            throw e instanceof PredictInputError ? new HttpError(400, e.message) : e;
          }
        })();
        const outputs = examples.count === 0 ? new Float32Array(0) : await held.predictor.predict(examples.x, examples.count);
        const each = predictions(task, outputs, examples.count);
        return {
          outputs: each.map((p) => p.output),
          ...(task.output.kind === 'classes' && { classes: each.map((p) => p.class) }),
          ...(task.output.kind === 'binary' && { labels: each.map((p) => p.label) }),
          version: held.model.version,
          runtime: held.predictor.runtime,
        };
      });
      send(res, 200, answer);
    } catch (error) {
      if (error instanceof HttpError) {
        if (error.status === 413) res.setHeader('Connection', 'close');
        send(res, error.status, { error: error.message });
      } else {
        send(res, 500, { error: `prediction failed: ${(error as Error).message}` });
      }
    }
  }

  private readBody(req: http.IncomingMessage): Promise<string> {
    const declared = Number(req.headers['content-length']);
    if (declared > this.maxBodyBytes) {
      req.resume();
      return Promise.reject(new HttpError(413, `the body is ${declared} bytes; at most ${this.maxBodyBytes}`));
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (chunk: Buffer): void => {
        size += chunk.length;
        if (size > this.maxBodyBytes) {
          req.off('data', onData);
          req.resume();
          reject(new HttpError(413, `the body is over ${this.maxBodyBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      };
      req.on('data', onData);
      req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.once('error', reject);
    });
  }

  private inputsOf(body: string): unknown[] {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (e) {
      throw new HttpError(400, `the body is not JSON: ${(e as Error).message}`);
    }
    const inputs = (parsed as { inputs?: unknown } | null)?.inputs;
    if (typeof parsed !== 'object' || parsed === null || !Array.isArray(inputs)) throw new HttpError(400, 'the body must be {"inputs": [[...flat values...], ...]}');
    if (inputs.length > this.maxExamples) throw new HttpError(413, `${inputs.length} examples; at most ${this.maxExamples} a request`);
    return inputs;
  }
}

function methodNotAllowed(res: http.ServerResponse, allow: string): HttpError {
  res.setHeader('Allow', allow === 'GET' ? 'GET, HEAD' : allow);
  return new HttpError(405, `use ${allow}`);
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}
