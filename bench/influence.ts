/**
 * What the default influence bound (`influence: 'adaptive'`, aggregator/strategies/adaptiveNormBound.ts)
 * costs on clean runs: the codecs bench's task (bench/tasks.ts: 20 devices, shards:2, the 2NN,
 * 80 rounds, seed 1) under the default codec and f32, with the bound and without it. Each run
 * is a `Simulation` in this process (the command line has no flag for the option), saved under
 * bench/results/influence/ and reused when its settings are the same (so an interrupted bench
 * resumes). Also prints how often the bound clipped, and the longest update of a round over
 * the median of recent ones (the bound is 4x that median).
 * Usage: npm run build && node dist/bench/influence.js [--rounds 80] [--codecs a,b] [--workers 2] [--baseline run|codecs] [--fresh]
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_INFLUENCE_MULTIPLIER, type Influence, type RoundReport } from '../aggregator/index.js';
import { Simulation, type RunReport, type SimulationSettings } from '../simulator/index.js';
import { roundsTo } from './grid.js';
import { codecsTask } from './tasks.js';
import { flag, printTable, writeResults } from './table.js';

const task = codecsTask();
// The committed table's codecs: the default before issue 14, and f32.
const codecs = flag('codecs', 'topk:0.01+int8+ef,f32').split(',');
const workers = Number(flag('workers', String(os.availableParallelism())));
const fresh = process.argv.includes('--fresh');
const dir = path.join('bench', 'results', 'influence');

/** What a run of the bench keeps: the run report and, per round, what the bound did. */
interface Saved {
  report: RunReport;
  influence: (RoundReport['influence'] | null)[];
}

function settings(codec: string, influence: Influence): SimulationSettings {
  return {
    devices: Number(task.devices), rounds: Number(task.rounds), partition: task.partition, model: task.model as '2nn',
    lr: Number(task.lr), batchSize: Number(task['batch-size']), epochs: Number(task.epochs), seed: Number(task.seed),
    codec, influence, workers, downlink: task.downlink,
  };
}

async function run(codec: string, influence: Influence): Promise<Saved> {
  const file = path.join(dir, `${codec.replace(/[^A-Za-z0-9.]+/g, '_')}-${influence}.json`);
  const args = JSON.stringify(settings(codec, influence));
  if (!fresh && existsSync(file) && existsSync(`${file}.args`) && readFileSync(`${file}.args`, 'utf8') === args) {
    console.log(`reusing ${file}`);
    return JSON.parse(readFileSync(file, 'utf8')) as Saved;
  }
  const simulation = new Simulation(settings(codec, influence));
  const perRound: Saved['influence'] = [];
  simulation.on('roundClosed', (r) => {
    perRound.push(r.influence ?? null);
    if (r.round % 10 === 0 || r.round === 1) console.log(`[${codec} ${influence}] round ${r.round}: accuracy ${r.accuracy.toFixed(4)}${r.influence ? `, bound ${r.influence.bound?.toFixed(3)}, clipped ${r.influence.clipped}` : ''}`);
  });
  const report = await simulation.run();
  const saved = { report, influence: perRound };
  await mkdir(dir, { recursive: true });
  await writeFile(file, JSON.stringify(saved));
  await writeFile(`${file}.args`, args);
  return saved;
}

/**
 * The run without the bound. `--baseline codecs`: the codecs bench's saved report of the same
 * task and codec (bench/results/codecs/, made before the option existed, so without the bound),
 * when its flags match; runs are deterministic (the same seed gives the same accuracies, round
 * by round), so it is the run this bench would make with `influence: 'off'`.
 */
function codecsBaseline(codec: string): Saved | null {
  const file = path.join('bench', 'results', 'codecs', `${codec.replace(/[^A-Za-z0-9.]+/g, '_')}.json`);
  if (!existsSync(file) || !existsSync(`${file}.args`)) return null;
  const flags = JSON.parse(readFileSync(`${file}.args`, 'utf8')) as Record<string, string>;
  const same = Object.entries({ ...task, rounds: flags.rounds, codec }).every(([k, v]) => flags[k] === v) && Number(flags.rounds) >= Number(task.rounds);
  if (!same) return null;
  console.log(`baseline (off): ${file}`);
  return { report: JSON.parse(readFileSync(file, 'utf8')) as RunReport, influence: [] };
}

/** Aggregator time per accepted update over the compared rounds (decoding, the bound, the strategy). */
function aggregateMsPerUpdate(saved: Saved): number {
  const rounds = saved.report.rounds.slice(0, Number(task.rounds));
  return rounds.reduce((s, r) => s + r.aggregateMs, 0) / rounds.reduce((s, r) => s + r.accepted, 0);
}

const useCodecs = flag('baseline', 'run') === 'codecs';
const rounds = Number(task.rounds);
console.log(`influence: ${Object.entries(task).map(([k, v]) => `${k}=${v}`).join(' ')}, codecs ${codecs.join(', ')}`);
const rows = [];
for (const codec of codecs) {
  const on = await run(codec, 'adaptive');
  const baseline = useCodecs ? codecsBaseline(codec) : null;
  const off = baseline ?? (await run(codec, 'off'));
  const accuracy = (saved: Saved): number[] => saved.report.rounds.slice(0, rounds).map((r) => r.accuracy);
  const [a, b] = [accuracy(off), accuracy(on)];
  const bounded = on.influence.filter((x): x is NonNullable<typeof x> => x !== null && x !== undefined && x.bound !== null && x.longest !== null);
  // The bound is MULTIPLIER x the median: longest / median = MULTIPLIER x longest / bound.
  const ratios = bounded.map((x) => (DEFAULT_INFLUENCE_MULTIPLIER * x.longest!) / x.bound!);
  const updates = on.report.rounds.reduce((s, r) => s + r.accepted, 0);
  rows.push({
    codec,
    rounds,
    'off acc': a[rounds - 1]!,
    'adaptive acc': b[rounds - 1]!,
    'diff (pt)': 100 * (b[rounds - 1]! - a[rounds - 1]!),
    'max |diff| any round (pt)': 100 * Math.max(...a.map((x, i) => Math.abs(x - b[i]!))),
    'off to 95%': roundsTo(off.report, 0.95),
    'adaptive to 95%': roundsTo(on.report, 0.95),
    clipped: `${bounded.reduce((s, x) => s + x.clipped, 0)}/${updates}`,
    'max longest/median': Math.max(...ratios),
    'agg ms/update off': aggregateMsPerUpdate(off),
    'agg ms/update adaptive': aggregateMsPerUpdate(on),
    'off source': baseline ? 'codecs bench' : 'run',
  });
}
printTable(rows);
console.log(`\nadaptive: each update longer than ${DEFAULT_INFLUENCE_MULTIPLIER}x the median norm of recently accepted updates is scaled down to it;`);
console.log('max longest/median: the longest update of any round over the median its bound was taken from (the bound is the multiplier).');
const out = await writeResults('influence', { task, multiplier: DEFAULT_INFLUENCE_MULTIPLIER, rows }, flag('out', '') || undefined);
console.log(`wrote ${out}`);
