/**
 * McMahan et al. 2017 ("Communication-Efficient Learning of Deep Networks from Decentralized
 * Data"), MNIST: 100 clients of 600 examples, C = 0.1, rounds to reach a target test accuracy,
 * IID and pathological non-IID (shards:2), beside the paper's Table 2 figures.
 * Usage: npm run build && node dist/bench/fedavg-paper.js [--jobs 1] [--max-rounds-iid 300]
 *        [--max-rounds-noniid 1500] [--lr 0.1] [--variants] [--cnn] [--cnn-noniid] [--fresh]
 * --variants adds the best codec and server optimizer to the 2NN rows; --cnn adds the IID CNN
 * row (E=5, B=10, to 99%; about a minute a round here), --cnn-noniid the non-IID one (hours).
 * Each run is a `fedmq simulate`, which trains on a pool of worker threads (all cores): one
 * run at a time by default.
 */
import path from 'node:path';
import { runGrid, roundsTo, type GridRun } from './grid.js';
import { flag, printTable, writeResults } from './table.js';

interface Row { model: '2nn' | 'cnn'; epochs: number; batch: number; partition: 'iid' | 'shards:2'; target: number; paper: number }
const PAPER: Row[] = [
  { model: '2nn', epochs: 1, batch: 10, partition: 'iid', target: 0.97, paper: 87 },
  { model: '2nn', epochs: 1, batch: 10, partition: 'shards:2', target: 0.97, paper: 664 },
  { model: 'cnn', epochs: 5, batch: 10, partition: 'iid', target: 0.99, paper: 20 },
  { model: 'cnn', epochs: 5, batch: 10, partition: 'shards:2', target: 0.99, paper: 229 },
];
const plain = [{ codec: 'f32', strategy: 'fedavg' }];
const variantsOf = (r: Row): { codec: string; strategy: string }[] => (r.model === '2nn' && process.argv.includes('--variants')
  ? [...plain, { codec: flag('codec', 'topk:0.01+int8+ef'), strategy: 'fedavg' }, { codec: 'f32', strategy: flag('strategy', 'fedavgm') }]
  : plain);
const rows = PAPER.filter((r) => r.model === '2nn' || process.argv.includes(r.partition === 'iid' ? '--cnn' : '--cnn-noniid'));
const maxRounds = (r: Row): string => flag(r.partition === 'iid' ? 'max-rounds-iid' : 'max-rounds-noniid', r.partition === 'iid' ? '300' : '1500');

const runs: GridRun[] = rows.flatMap((r) => variantsOf(r).map((v) => ({
  name: `${r.model} ${r.partition} ${v.codec} ${v.strategy}`,
  flags: {
    devices: '100', fraction: '0.1', model: r.model, partition: r.partition, epochs: String(r.epochs), 'batch-size': String(r.batch),
    lr: flag('lr', '0.1'), seed: flag('seed', '1'), codec: v.codec, strategy: v.strategy, downlink: flag('downlink', 'f32'),
    rounds: maxRounds(r), 'target-accuracy': String(r.target),
    // A CNN round is ~3,000 SGD steps a device: more than the default 120 s deadline allows here.
    ...(r.model === 'cnn' && { 'round-timeout': '900' }),
  },
})));
const jobs = Number(flag('jobs', '1'));
console.log(`fedavg-paper: ${runs.length} runs, ${jobs} at a time`);
const reports = await runGrid(path.join('bench', 'results', 'fedavg-paper'), runs, jobs, process.argv.includes('--fresh'));

const table = rows.flatMap((r) => variantsOf(r).map((v) => {
  const report = reports.get(`${r.model} ${r.partition} ${v.codec} ${v.strategy}`)!;
  return {
    model: r.model.toUpperCase(), E: r.epochs, B: r.batch, data: r.partition === 'iid' ? 'IID' : 'non-IID', target: `${r.target * 100}%`,
    codec: v.codec, strategy: v.strategy, 'paper rounds': r.paper, 'our rounds': roundsTo(report, r.target),
    'final acc': report.final.accuracy, 'wall min': report.final.wallMs / 60_000,
  };
}));
printTable(table);
const out = await writeResults('fedavg-paper', { table }, flag('out', '') || undefined);
console.log(`wrote ${out}`);
