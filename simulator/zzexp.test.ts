import { it } from 'vitest';
import { Rng, f32Codec } from '../protocol/index.js';
import { loadMnist, subset, partition, parsePartition } from '../datasets/index.js';
import { LocalModel, initialWeights, type ModelName } from '../learning/index.js';
import { LocalTrainer, type Trainer } from '../device-agent/index.js';
import { parseStrategy, l2Norm } from '../aggregator/strategies/index.js';
import { attackTrainer, chooseAttackers, parseAttack } from './attacks.js';

const MODEL = (process.env.M ?? 'mlp') as ModelName;
const ROUNDS = Number(process.env.R ?? 5);
it('exp', async () => {
  const { train, test } = await loadMnist();
  const shards = partition(train.y, 10, parsePartition('iid'), 0);
  const ids = Array.from({ length: 10 }, (_, k) => `dev-${k}`);
  const data = shards.map((s) => subset(train, s));
  const evalModel = await LocalModel.create(MODEL);
  const honest = new LocalTrainer();
  const configs = (process.env.C ?? 'none|fedavg').split(',');
  for (const cfg of configs) {
    const [attackSpec, strategySpec] = cfg.split('|') as [string, string];
    const attack = attackSpec === 'none' ? null : parseAttack(attackSpec);
    const bad = attack ? chooseAttackers(ids, attack.fraction, 0) : new Set<string>();
    const evil: Trainer | null = attack ? attackTrainer(honest, attack, 0) : null;
    const strategy = parseStrategy(strategySpec);
    let global = initialWeights(MODEL, 0);
    const accs: string[] = [];
    const norms: number[] = [];
    for (let r = 1; r <= ROUNDS; r++) {
      const agg = strategy.beginRound(r, global);
      for (const [k, id] of ids.entries()) {
        const t = bad.has(id) ? evil! : honest;
        const out = await t.train({ model: MODEL, global, data: data[k]!, options: { epochs: 1, batchSize: 20, lr: 0.05, seed: r * 100 + k, mu: strategy.proximalMu ?? 0 } });
        const delta = out.weights.map((w, i) => w - global[i]!);
        if (!bad.has(id)) norms.push(l2Norm(delta));
        agg.add({ deviceId: id, numExamples: data[k]!.count, codec: f32Codec, delta: f32Codec.encode(delta, new Rng(0)) });
      }
      global = agg.finish([]) ?? global;
      evalModel.setWeights(global);
      const e = await evalModel.evaluate(test);
      accs.push(e.accuracy.toFixed(3));
    }
    console.log(`EXP ${MODEL} ${cfg} acc ${accs.join(' ')} honestNorm ${Math.min(...norms).toFixed(2)}-${Math.max(...norms).toFixed(2)}`);
  }
}, 3_600_000);
