/**
 * Differential privacy's cost in accuracy (issue 16): MNIST on a simulated fleet (1,000 devices,
 * IID shares of 60 examples, 100 chosen per round: q = 0.1), central DP-FedAvg at target
 * epsilons (delta 1e-5, the whole run's rounds) with a fixed clip and with adaptive clipping
 * (Andrew et al. 2021, the paper's defaults), beside the same run without DP.
 * The fixed clip is the non-private run's median update norm (what docs/privacy.md tells a user
 * to do: the default influence bound is 4x that median, and the run reports it). Each target's
 * noise multiplier is `noiseMultiplierFor(epsilon, q, rounds, delta)`, so every DP run ends at
 * (or just below) its epsilon; the run's own accountant reports what it spent.
 * `--secagg` prints secure aggregation's cost per round instead (bench/secagg.ts).
 * Usage: npm run build && node dist/bench/privacy.js [--devices 1000] [--per-round 100]
 *        [--rounds 30] [--epsilons 1,2,4,8] [--model mlp] [--lr 0.1] [--batch 20] [--workers 2]
 *        [--seed 1] [--clips fixed,adaptive] [--out FILE]
 * Each run is an in-process `Simulation` (workers: the cores, one run at a time), with training
 * time fixed per example (simulated time reproduces; the noise is the OS CSPRNG's, so DP runs do not).
 */
import { noiseMultiplierFor } from '../privacy/index.js';
import { Simulation, type RunReport, type SimulationSettings } from '../simulator/index.js';
import { flag, printTable, writeResults } from './table.js';

// `--secagg [--sizes 10,50,100,500]`: secure aggregation's cost per round instead of DP's accuracy
// (measured by bench/secagg.ts: bytes per device, device and aggregator CPU ms, against Bonawitz et al.'s 1.73x).
if (process.argv.includes('--secagg')) {
  await import('./secagg.js');
  process.exit(0);
}

const DELTA = 1e-5;
const devices = Number(flag('devices', '1000'));
const perRound = Number(flag('per-round', '100'));
const rounds = Number(flag('rounds', '30'));
const epsilons = flag('epsilons', '1,2,4,8').split(',').map(Number);
const clips = flag('clips', 'fixed,adaptive').split(',') as ('fixed' | 'adaptive')[];
const q = perRound / devices;
const base: SimulationSettings = {
  devices, fraction: q, rounds, model: flag('model', 'mlp'), partition: 'iid', epochs: 1, batchSize: Number(flag('batch', '20')),
  lr: Number(flag('lr', '0.1')), seed: Number(flag('seed', '1')), codec: 'f32', workers: Number(flag('workers', '2')), msPerExample: 0.05,
  backend: 'wasm', roundTimeoutMs: 600_000,
};

interface Row { [k: string]: string | number }
const table: Row[] = [];
const runs: Record<string, unknown>[] = [];

async function run(name: string, settings: SimulationSettings): Promise<{ report: RunReport; medianNorm: number | null }> {
  const simulation = new Simulation({ ...base, ...settings });
  const medians: number[] = [];
  // The default influence bound is 4x the median norm of recently accepted updates: the non-private run's median.
  simulation.on('roundClosed', (r, entry) => {
    const bound = r.influence?.bound;
    if (bound !== undefined && bound !== null) medians.push(bound / 4);
    const p = entry.privacy;
    console.log(`  ${name} round ${r.round}: acc ${r.accuracy.toFixed(4)}${p ? `  epsilon ${p.epsilon.toFixed(3)}  clip ${p.clip.toPrecision(3)}` : ''}`);
  });
  const started = performance.now();
  const report = await simulation.run();
  console.log(`${name}: final accuracy ${report.final.accuracy.toFixed(4)} after ${report.final.rounds} rounds, ${((performance.now() - started) / 1000).toFixed(0)} s`);
  const tail = medians.slice(-Math.max(1, Math.floor(medians.length / 2)));
  return { report, medianNorm: tail.length > 0 ? tail.reduce((a, b) => a + b, 0) / tail.length : null };
}

function lastMean(report: RunReport, n: number): number {
  const last = report.rounds.slice(-n);
  return last.reduce((s, r) => s + r.accuracy, 0) / last.length;
}

function record(name: string, dp: string | undefined, z: number | null, target: number | null, report: RunReport): void {
  const privacy = report.final.privacy;
  table.push({
    run: name, 'target eps': target ?? 'none', z: z ?? 0, clip: privacy ? privacy.clip : 0, 'eps spent': privacy ? privacy.epsilon : 0,
    rounds: report.final.rounds, 'final acc': report.final.accuracy, 'last-3 mean acc': lastMean(report, 3), 'wall s': report.final.wallMs / 1000,
  });
  runs.push({ name, dp, noiseMultiplier: z, targetEpsilon: target, report: { final: report.final, rounds: report.rounds.map((r) => ({ round: r.round, accuracy: r.accuracy, privacy: r.privacy })) } });
}

console.log(`privacy bench: ${devices} devices, ${perRound} per round (q = ${q}), ${rounds} rounds, ${String(base.model)}, delta ${DELTA}, epsilons ${epsilons.join(', ')}, clips ${clips.join(', ')}`);
const started = performance.now();
const plain = await run('no DP', {});
record('no DP', undefined, null, null, plain.report);
const fixedClip = Number((plain.medianNorm ?? 1).toPrecision(2));
console.log(`fixed clip: ${fixedClip} (the non-private run's median update norm, from its influence bound / 4)`);

for (const clip of clips) {
  for (const target of epsilons) {
    // Rounded up: the run's epsilon stays at or below the target.
    const z = Math.ceil(noiseMultiplierFor(target, q, rounds, DELTA) * 1000) / 1000;
    const dp = `noise:${z},clip:${clip === 'fixed' ? fixedClip : 'adaptive'},delta:${DELTA}`;
    const name = `${clip} eps ${target}`;
    const { report } = await run(name, { dp });
    record(name, dp, z, target, report);
  }
}

printTable(table);
const command = `node dist/bench/privacy.js ${process.argv.slice(2).join(' ')}`.trim();
const out = await writeResults('privacy', {
  command, config: { ...base, delta: DELTA, q, fixedClip, epsilons, clips }, totalWallS: (performance.now() - started) / 1000, table, runs,
}, flag('out', '') || undefined);
console.log(`wrote ${out} (${((performance.now() - started) / 60_000).toFixed(1)} min)`);
