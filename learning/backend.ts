import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { OptionsError } from '../protocol/errors.js';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

/** Fastest first: native TensorFlow, then XNNPACK compiled to WebAssembly, then plain JS. */
const AUTO_ORDER: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];
const BACKEND_NAMES: readonly string[] = AUTO_ORDER;

/**
 * `@tensorflow/tfjs-node` is an optional dependency (its install downloads libtensorflow).
 * A variable specifier keeps tsc from resolving a module that may not be installed.
 */
const TFJS_NODE_MODULE: string = '@tensorflow/tfjs-node';

let active: BackendName | null = null;
let pending: Promise<BackendName> | null = null;

/** The backend set by `initBackend`, or `null` before it has finished. */
export function currentBackend(): BackendName | null {
  return active;
}

/**
 * Picks tfjs-node, then wasm, then cpu (or the one asked for; throws `OptionsError` if that
 * one cannot load). Idempotent: once a backend is set, later calls return it whatever they ask.
 */
export function initBackend(preference: BackendName | 'auto' = 'auto'): Promise<BackendName> {
  if (active !== null) return Promise.resolve(active);
  if (pending === null) {
    pending = choose(preference).then(
      (name) => {
        active = name;
        return name;
      },
      (error: unknown) => {
        pending = null;
        throw error;
      },
    );
  }
  return pending;
}

async function choose(preference: BackendName | 'auto'): Promise<BackendName> {
  if (preference !== 'auto' && !BACKEND_NAMES.includes(preference)) {
    throw new OptionsError('backend', `unknown backend "${String(preference)}" (expected auto, ${BACKEND_NAMES.join(', ')})`);
  }
  // The core never prints; production mode silences tfjs's console advice ("install tfjs-node").
  tf.enableProdMode();
  if (preference !== 'auto') {
    const failure = await tryLoad(preference);
    if (failure !== null) {
      throw new OptionsError('backend', `backend "${preference}" could not be loaded: ${describe(failure)}`, { cause: failure });
    }
    return preference;
  }
  const failures: string[] = [];
  for (const name of AUTO_ORDER) {
    const failure = await tryLoad(name);
    if (failure === null) return name;
    failures.push(`${name}: ${describe(failure)}`);
  }
  throw new OptionsError('backend', `no tfjs backend could be loaded (${failures.join('; ')})`);
}

/** Loads and activates one backend; returns `null` on success or the reason it failed. */
async function tryLoad(name: BackendName): Promise<unknown> {
  try {
    if (name === 'tensorflow') await import(TFJS_NODE_MODULE);
    if (name === 'wasm') {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      wasm.setWasmPaths(wasmDirectory());
    }
    if (!(await tf.setBackend(name))) return new Error(`tf.setBackend('${name}') returned false`);
    await tf.ready();
    return tf.getBackend() === name ? null : new Error(`tfjs reports backend "${tf.getBackend()}"`);
  } catch (error) {
    return error;
  }
}

/** In Node the .wasm binaries are read from disk: the package's dist/ folder, trailing slash required. */
function wasmDirectory(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
