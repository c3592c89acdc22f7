import type { Rng } from '../protocol/random.js';

/** Start of part `i` when `n` items are cut into `parts` contiguous parts whose sizes differ by at most 1. */
export function evenCut(i: number, n: number, parts: number): number {
  return Math.floor((i * n) / parts);
}

/** 0..n-1 as a Uint32Array. */
export function range(n: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}

/**
 * Example indices ordered by label, keeping the original order within a label (a stable
 * counting sort), and where each label's run starts: label `c` occupies `starts[c]..starts[c+1]`.
 */
export function sortByLabel(labels: Uint8Array): { order: Uint32Array; starts: Uint32Array } {
  const starts = new Uint32Array(257);
  for (let i = 0; i < labels.length; i++) {
    const at = (labels[i] as number) + 1;
    starts[at] = (starts[at] as number) + 1;
  }
  for (let c = 1; c <= 256; c++) starts[c] = (starts[c] as number) + (starts[c - 1] as number);
  const next = starts.slice(0, 256);
  const order = new Uint32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] as number;
    const at = next[label] as number;
    order[at] = i;
    next[label] = at + 1;
  }
  return { order, starts };
}

/** Concatenates index runs into one client's array and shuffles it, so a client's order carries no label pattern. */
export function gather(runs: readonly Uint32Array[], rng: Rng): Uint32Array {
  let size = 0;
  for (const run of runs) size += run.length;
  const out = new Uint32Array(size);
  let at = 0;
  for (const run of runs) {
    out.set(run, at);
    at += run.length;
  }
  return rng.shuffle(out);
}
