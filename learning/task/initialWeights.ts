import { Rng } from '../../protocol/random.js';
import { taskLayout, type Task } from '../../protocol/task.js';

/**
 * Deterministic initial weights of a task's model as one flat vector (`TaskModel.getWeights`
 * order), Keras's defaults: Glorot-uniform kernels, U(-l, l) with l = sqrt(6 / (fanIn +
 * fanOut)); orthogonal recurrent kernels (Saxe et al. 2014); zero biases, but 1 on an LSTM's
 * forget gate (Keras's `unit_forget_bias`). Pure JS, so every process derives the same vector.
 * Seeded by (seed, task name) exactly as the zoo's `initialWeights(name, seed)` (bench/baseline/initialWeights.ts), so
 * the built-in tasks start from the very weights the model zoo does.
 */
export function taskInitialWeights(task: Task, seed: number): Float32Array {
  const { params, paramCount } = taskLayout(task);
  const out = new Float32Array(paramCount);
  const rng = Rng.derive(seed, 'learning.initialWeights', task.name);
  let offset = 0;
  for (const p of params) {
    const slice = out.subarray(offset, offset + p.size);
    if (p.role === 'kernel') {
      const limit = Math.sqrt(6 / (p.fanIn + p.fanOut));
      for (let i = 0; i < slice.length; i++) slice[i] = (2 * rng.next() - 1) * limit;
    } else if (p.role === 'recurrentKernel') {
      orthogonal(slice, p.shape[0] as number, p.shape[1] as number, rng);
    } else {
      const layer = task.model.layers[p.layer];
      if (layer?.kind === 'lstm') slice.fill(1, layer.units, 2 * layer.units);
    }
    offset += p.size;
  }
  return out;
}

/**
 * A rows x cols matrix (row-major, into `out`) whose rows (if rows <= cols) or columns are
 * orthonormal: Gram-Schmidt, twice for stability, on Gaussian vectors.
 */
function orthogonal(out: Float32Array, rows: number, cols: number, rng: Rng): void {
  const n = Math.min(rows, cols);
  const len = Math.max(rows, cols);
  const v = Array.from({ length: n }, () => Float64Array.from({ length: len }, () => rng.normal()));
  for (let i = 0; i < n; i++) {
    const vi = v[i] as Float64Array;
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < i; j++) {
        const vj = v[j] as Float64Array;
        let dot = 0;
        for (let k = 0; k < len; k++) dot += (vi[k] as number) * (vj[k] as number);
        for (let k = 0; k < len; k++) vi[k] = (vi[k] as number) - dot * (vj[k] as number);
      }
    }
    let norm = 0;
    for (let k = 0; k < len; k++) norm += (vi[k] as number) ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let k = 0; k < len; k++) vi[k] = (vi[k] as number) / norm;
  }
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * cols + c] = rows <= cols ? ((v[r] as Float64Array)[c] as number) : ((v[c] as Float64Array)[r] as number);
  }
}
