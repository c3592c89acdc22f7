import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunReport } from '../simulator/index.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

/** One `fedmq simulate` of a bench: a name for its row and its flags. */
export interface GridRun {
  name: string;
  flags: Record<string, string>;
}

/**
 * Runs each simulation as its own `fedmq simulate` process, `jobs` at a time (wasm training
 * uses one core each), and returns the run reports by name. A report saved in `dir` by an
 * earlier run with the very same flags is reused, so an interrupted bench resumes.
 */
export async function runGrid(dir: string, runs: GridRun[], jobs: number, fresh = false): Promise<Map<string, RunReport>> {
  await mkdir(dir, { recursive: true });
  const file = (run: GridRun): string => path.join(dir, `${run.name.replace(/[^A-Za-z0-9.]+/g, '_')}.json`);
  const argsOf = (run: GridRun): string => JSON.stringify(run.flags);
  const saved = (run: GridRun): RunReport | null => {
    if (!existsSync(file(run)) || !existsSync(`${file(run)}.args`)) return null;
    if (readFileSync(`${file(run)}.args`, 'utf8') !== argsOf(run)) return null;
    return JSON.parse(readFileSync(file(run), 'utf8')) as RunReport;
  };
  const todo = fresh ? [...runs] : runs.filter((run) => saved(run) === null);
  if (todo.length < runs.length) console.log(`reusing ${runs.length - todo.length} saved report(s) in ${dir}`);
  const simulate = (run: GridRun): Promise<void> =>
    new Promise((resolve, reject) => {
      const args = [CLI, 'simulate', ...Object.entries(run.flags).flatMap(([k, v]) => [`--${k}`, v]), '--report', file(run)];
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
      child.stdout.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n')) if (/^round\s+\d+\/|^done/.test(line)) console.log(`[${run.name}] ${line}`);
      });
      child.on('exit', async (code) => {
        if (code !== 0) return reject(new Error(`${run.name}: simulate exited with ${code}`));
        await writeFile(`${file(run)}.args`, argsOf(run));
        resolve();
      });
    });
  const queue = [...todo];
  await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, async () => {
    for (let run = queue.shift(); run !== undefined; run = queue.shift()) await simulate(run);
  }));
  return new Map(runs.map((run) => [run.name, saved(run)!]));
}

/** First round whose accuracy reached `target`, or `>N` when the run never did. */
export function roundsTo(report: RunReport, target: number): number | string {
  return report.rounds.find((r) => r.accuracy >= target)?.round ?? `>${report.rounds.length}`;
}
