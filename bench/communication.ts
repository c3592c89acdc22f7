/**
 * Communication both ways (issue 14): for f32 FedAvg and candidate codec/downlink settings,
 * bytes up, bytes down and their total until the global first reaches the task's target
 * accuracy, rounds to 95% and to 97%, and total bytes against f32 FedAvg's to the same target.
 * Two tasks: the codecs bench's (20 devices, shards:2, 2NN, B=20, lr 0.1, seed 1; target 95%)
 * and the FedAvg paper's IID one (100 devices, C=0.1, 2NN, E=1, B=10, lr 0.1, seed 1; target 97%).
 * Each run is an in-process `Simulation` (workers: the cores, one run at a time) that stops at
 * 97% or at the task's round cap, with training time fixed per example so simulated time
 * reproduces. Bytes are the run report's: bytesUp = update payloads published; bytesDown =
 * for each participant the round message and the global's step (or the full global), or what
 * its catch-up sent instead, plus every catch-up sent (see aggregator/coordinator.ts downloads).
 * Usage: npm run build && node dist/bench/communication.js [--tasks codecs,iid] [--settings a,b]
 *        [--try UPLINK/DOWNLINK;...] [--max-rounds-codecs 80] [--max-rounds-iid 200] [--quick]
 *        [--fresh] [--out-dir DIR]
 * --settings names rows of SETTINGS (`none` for only --try); --try adds candidates by their specs.
 * --quick: f32 and the default only, caps 60 (codecs) and 150 (iid). A saved run in the task's
 * JSON with the same settings but another round cap is reused, cut to this cap, when it went as
 * far (an interrupted bench resumes); --fresh runs everything again.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_CODEC } from '../aggregator/index.js';
import { DEFAULT_DOWNLINK } from '../aggregator/options.js';
import { Simulation, type RunReport, type SimulationSettings } from '../simulator/index.js';
import { codecsTask } from './tasks.js';
import { flag, printTable, writeResults } from './table.js';

interface Setting { name: string; codec: string; downlink: string }
/** Before issue 14: top-1% int8 updates with error feedback, the full float32 global down. */
const BEFORE = { codec: 'topk:0.01+int8+ef', downlink: 'f32' };
const SETTINGS: Setting[] = [
  { name: 'f32', codec: 'f32', downlink: 'f32' },
  { name: 'default', codec: DEFAULT_CODEC, downlink: DEFAULT_DOWNLINK },
  { name: 'before (topk:0.01+int8+ef / f32)', ...BEFORE },
  { name: 'int8', codec: 'int8', downlink: 'f32' },
  { name: 'topk:0.05+int8+ef', codec: 'topk:0.05+int8+ef', downlink: 'f32' },
  { name: 'topk:0.05+int4+ef / 10% steps', codec: 'topk:0.05+int4+deflate+ef', downlink: 'delta:topk:0.1+ternary+deflate+ef' },
  { name: 'topk:0.05+int4+ef / 2% steps', codec: 'topk:0.05+int4+deflate+ef', downlink: 'delta:topk:0.02+ternary+deflate+ef' },
  { name: 'before + delta:f16', codec: BEFORE.codec, downlink: 'delta:f16' },
  { name: 'before + delta:int8', codec: BEFORE.codec, downlink: 'delta:int8' },
];
const QUICK = ['f32', 'default'];
/** Run unless --settings names others: f32, the default, and what it replaced. */
const DEFAULT_SETTINGS = ['f32', 'default', 'before (topk:0.01+int8+ef / f32)'];

interface Task { name: 'codecs' | 'iid'; target: number; settings: SimulationSettings }
const quick = process.argv.includes('--quick');
const codecs = codecsTask();
const TASKS: Task[] = [
  {
    name: 'codecs', target: 0.95,
    settings: {
      devices: Number(codecs.devices), partition: codecs.partition, model: codecs.model, lr: Number(codecs.lr),
      batchSize: Number(codecs['batch-size']), epochs: Number(codecs.epochs), seed: Number(codecs.seed),
      rounds: Number(flag('max-rounds-codecs', quick ? '60' : '80')),
    },
  },
  {
    // bench/fedavg-paper.ts's 2NN IID row: McMahan et al.'s 100 clients of 600 examples, C = 0.1.
    name: 'iid', target: 0.97,
    settings: {
      devices: 100, fraction: 0.1, partition: 'iid', model: '2nn', lr: 0.1, batchSize: 10, epochs: 1, seed: 1,
      rounds: Number(flag('max-rounds-iid', quick ? '150' : '200')),
    },
  },
];
const STOP_AT = 0.97;
const MS_PER_EXAMPLE = 0.1;

const names = flag('settings', (quick ? QUICK : DEFAULT_SETTINGS).join(',')).split(',').filter((n) => n !== '' && n !== 'none');
const settings = names.map((n) => {
  const s = SETTINGS.find((x) => x.name === n);
  if (!s) throw new Error(`unknown setting ${n}; known: ${SETTINGS.map((x) => x.name).join(', ')}`);
  return s;
});
// --try UPLINK/DOWNLINK[;UPLINK/DOWNLINK...]: candidates not in the list, named by their specs.
for (const pair of flag('try', '').split(';').filter(Boolean)) {
  const [codec = '', downlink = ''] = pair.split('/');
  settings.push({ name: `${codec} / ${downlink}`, codec, downlink });
}
const tasks = flag('tasks', 'codecs,iid').split(',').map((n) => {
  const t = TASKS.find((x) => x.name === n);
  if (!t) throw new Error(`unknown task ${n}; known: ${TASKS.map((x) => x.name).join(', ')}`);
  return t;
});
const outDir = flag('out-dir', path.join('bench', 'results'));
const fresh = process.argv.includes('--fresh');

interface Run {
  setting: string; codec: string; downlink: string; args: string; wallS: number;
  rounds: { round: number; accuracy: number; bytesUp: number; bytesDown: number; participants: number }[];
}

/** One simulation of `setting` on `task`, to 97% or the cap; the report's rounds kept. */
async function run(task: Task, setting: Setting, args: string): Promise<Run> {
  const started = performance.now();
  const simulation = new Simulation({
    ...task.settings, codec: setting.codec, downlink: setting.downlink, targetAccuracy: STOP_AT, msPerExample: MS_PER_EXAMPLE,
  });
  simulation.on('roundClosed', (r) => {
    if (r.round % 10 === 0 || r.accuracy >= STOP_AT) console.log(`[${task.name} ${setting.name}] round ${r.round} acc ${r.accuracy.toFixed(4)}`);
  });
  const report: RunReport = await simulation.run();
  const wallS = (performance.now() - started) / 1000;
  console.log(`[${task.name} ${setting.name}] ${report.rounds.length} rounds, ${wallS.toFixed(0)} s`);
  return {
    setting: setting.name, codec: setting.codec, downlink: setting.downlink, args, wallS,
    rounds: report.rounds.map((r) => ({ round: r.round, accuracy: r.accuracy, bytesUp: r.bytesUp, bytesDown: r.bytesDown, participants: r.participants })),
  };
}

/**
 * A saved run answers for a setting when everything but the round cap is the same, and it went
 * far enough: up to this cap, to STOP_AT, or past the task's target (the table's 97% column
 * then says how far it went).
 */
function covers(saved: Run, args: string, cap: number, target: number): boolean {
  const withoutCap = (a: string): string => JSON.stringify({ ...(JSON.parse(a) as object), rounds: undefined });
  if (withoutCap(saved.args) !== withoutCap(args)) return false;
  const last = saved.rounds.at(-1);
  return last !== undefined && (last.round >= cap || last.accuracy >= STOP_AT || reached(saved, target) !== null);
}

const MB = 2 ** 20;
/** Bytes up and down summed over the rounds up to and including `last`. */
const bytesTo = (r: Run, last: number): { up: number; down: number } => r.rounds.filter((x) => x.round <= last)
  .reduce((s, x) => ({ up: s.up + x.bytesUp, down: s.down + x.bytesDown }), { up: 0, down: 0 });
const reached = (r: Run, target: number): number | null => r.rounds.find((x) => x.accuracy >= target)?.round ?? null;
const roundsTo = (r: Run, target: number): number | string => reached(r, target) ?? `not reached (${r.rounds.length})`;

for (const task of tasks) {
  const file = path.join(outDir, `communication-${task.name}.json`);
  const saved: Run[] = !fresh && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { runs: Run[] }).runs : [];
  const config = { ...task.settings, targetAccuracy: STOP_AT, msPerExample: MS_PER_EXAMPLE };
  console.log(`communication ${task.name}: ${Object.entries(config).map(([k, v]) => `${k}=${v}`).join(' ')}; target ${task.target}`);
  const runs: Run[] = [];
  for (const setting of settings) {
    const args = JSON.stringify({ ...config, codec: setting.codec, downlink: setting.downlink });
    const old = saved.find((r) => covers(r, args, task.settings.rounds!, task.target));
    if (old) console.log(`[${task.name} ${setting.name}] reusing the saved run of ${old.codec} / ${old.downlink}`);
    runs.push(old ? { ...old, setting: setting.name } : await run(task, setting, args));
    // Saved after each run, so an interrupted bench keeps what it has measured.
    const kept = saved.filter((r) => !runs.some((x) => x.setting === r.setting));
    await writeResults(`communication-${task.name}`, { task: task.name, target: task.target, config, runs: [...runs, ...kept] }, file);
  }

  // The table reads each run up to this cap; the JSON keeps every round measured.
  const cap = task.settings.rounds!;
  const table = runs.map((r) => ({ ...r, rounds: r.rounds.filter((x) => x.round <= cap) }));
  const f32 = table.find((r) => r.setting === 'f32');
  const f32At = f32 === undefined ? null : reached(f32, task.target);
  const f32Bytes = f32 === undefined || f32At === null ? null : bytesTo(f32, f32At);
  const f32Total = f32Bytes === null ? null : f32Bytes.up + f32Bytes.down;
  const target = `${task.target * 100}%`;
  const rows = table.map((r) => {
    const at = reached(r, task.target);
    const { up, down } = bytesTo(r, at ?? Infinity);
    const total = up + down;
    return {
      setting: r.setting, uplink: r.codec, downlink: r.downlink,
      [`up MB to ${target}`]: (up / MB).toFixed(2),
      [`down MB to ${target}`]: (down / MB).toFixed(1),
      [`total MB to ${target}`]: (total / MB).toFixed(1),
      'rounds to 95%': roundsTo(r, 0.95),
      'rounds to 97%': roundsTo(r, 0.97),
      'total vs f32': f32Total === null ? 'f32 not reached' : at === null ? 'not reached' : (total / f32Total).toFixed(3),
      'x fewer bytes': at === null || f32Total === null ? '-' : (f32Total / total).toFixed(2),
      'wall s': Math.round(r.wallS),
    };
  });
  console.log(`\n${task.name}: bytes summed to the first round at ${target} (whole run when not reached); runs stop at ${STOP_AT * 100}% or the cap (${task.settings.rounds})`);
  printTable(rows);
  await writeResults(`communication-${task.name}`, { task: task.name, target: task.target, config, rows, runs: runs.concat(saved.filter((r) => !runs.some((x) => x.setting === r.setting))) }, file);
  console.log(`wrote ${file}`);
}
