import { CODEC_SPECS, DEFAULT_FLEET } from '../protocol/index.js';
import { STRATEGY_SPECS, coordinatorSpecs, defaultCoordinatorOptions, type CoordinatorOptions, type CoordinatorSettings } from '../aggregator/index.js';
import type { BackendName } from '../learning/index.js';
import { num, seconds, str, type FlagSpecs, type Flags } from './args.js';

const d = coordinatorSpecs(defaultCoordinatorOptions());

/** Flags of the federation itself, shared by `simulate` and `aggregator`. */
export const federationFlags: FlagSpecs = {
  fleet: { type: 'string', placeholder: 'ID', description: 'fleet id (topic prefix fedmq/v1/ID/)', default: DEFAULT_FLEET },
  rounds: { type: 'string', placeholder: 'N', description: 'federated rounds (the most, with --target-accuracy); async: new globals', default: String(d.rounds) },
  mode: { type: 'string', placeholder: 'MODE', description: 'sync (rounds wait for their participants) | async (FedBuff: a new global every --buffer updates, stale ones discounted)', default: d.mode },
  buffer: { type: 'string', placeholder: 'K', description: 'async: updates per new global', default: String(d.buffer) },
  'target-accuracy': { type: 'string', placeholder: 'ACC', description: 'stop once the test accuracy reaches ACC (e.g. 0.97)' },
  model: { type: 'string', placeholder: 'NAME', description: 'mlp | 2nn | cnn', default: d.model },
  fraction: { type: 'string', placeholder: 'C', description: 'share of online devices chosen per round (async: training at once)', default: String(d.fraction) },
  'min-participants': { type: 'string', placeholder: 'N', description: 'fewest devices chosen per round', default: String(d.minParticipants) },
  quorum: { type: 'string', placeholder: 'N', description: 'fewest accepted updates to change the global', default: String(d.quorum) },
  'round-timeout': { type: 'string', placeholder: 'SECONDS', description: 'deadline of each round', default: String(d.roundTimeoutMs / 1000) },
  epochs: { type: 'string', placeholder: 'E', description: 'local epochs', default: String(d.epochs) },
  'batch-size': { type: 'string', placeholder: 'B', description: 'local batch size', default: String(d.batchSize) },
  lr: { type: 'string', placeholder: 'RATE', description: 'local SGD learning rate', default: String(d.lr) },
  codec: { type: 'string', placeholder: 'SPEC', description: `update codec: ${CODEC_SPECS.join(' | ')} (e.g. topk:0.01+int8+ef)`, default: d.codec },
  strategy: { type: 'string', placeholder: 'SPEC', description: `aggregation: ${STRATEGY_SPECS.join(' | ')}`, default: d.strategy },
  downlink: { type: 'string', placeholder: 'SPEC', description: 'how the global travels: f32 | f16 | delta:SPEC (e.g. delta:f16)', default: d.downlink },
  seed: { type: 'string', placeholder: 'N', description: 'seed of initialisation, selection, shuffles, rounding', default: String(d.seed) },
  backend: { type: 'string', placeholder: 'NAME', description: 'auto | tensorflow | wasm | cpu', default: 'auto' },
  report: { type: 'string', placeholder: 'FILE', description: 'write the run report (JSON) here' },
  checkpoint: { type: 'string', placeholder: 'FILE', description: 'save the global after every round; resume from it when it exists' },
  influence: { type: 'string', placeholder: 'MODE', description: "adaptive (scale an update longer than 4x the median accepted length down to it) | off", default: d.influence },
};

export function federationOptions(flags: Flags): CoordinatorSettings & { backend?: BackendName | 'auto' } {
  return {
    fleet: str(flags, 'fleet'),
    rounds: num(flags, 'rounds'),
    mode: str(flags, 'mode') as CoordinatorOptions['mode'] | undefined,
    buffer: num(flags, 'buffer'),
    targetAccuracy: num(flags, 'target-accuracy'),
    model: str(flags, 'model') as CoordinatorOptions['model'] | undefined,
    fraction: num(flags, 'fraction'),
    minParticipants: num(flags, 'min-participants'),
    quorum: num(flags, 'quorum'),
    roundTimeoutMs: seconds(flags, 'round-timeout'),
    epochs: num(flags, 'epochs'),
    batchSize: num(flags, 'batch-size'),
    lr: num(flags, 'lr'),
    codec: str(flags, 'codec'),
    downlink: str(flags, 'downlink'),
    strategy: str(flags, 'strategy'),
    seed: num(flags, 'seed'),
    checkpoint: str(flags, 'checkpoint'),
    influence: str(flags, 'influence') as CoordinatorOptions['influence'] | undefined,
    backend: str(flags, 'backend') as BackendName | 'auto' | undefined,
  };
}

/** The federation's settings as the start-up line prints them (`settingsLine`), specs as given on the command line. */
export function federationSettings(o: CoordinatorOptions): Record<string, string | number | undefined> {
  const s = coordinatorSpecs(o);
  return {
    rounds: s.rounds, mode: s.mode === 'async' ? `async, buffer ${s.buffer}` : undefined, fraction: s.fraction, model: s.model,
    epochs: s.epochs, 'batch-size': s.batchSize, lr: s.lr, strategy: s.strategy, codec: s.codec, downlink: s.downlink, seed: s.seed,
    'round-timeout': `${s.roundTimeoutMs / 1000}s`,
  };
}

/** MQTT login flags of the clients (`agent`, `aggregator`, `monitor`), for a broker run with `--auth`. */
export const loginFlags: FlagSpecs = {
  username: { type: 'string', placeholder: 'NAME', description: 'MQTT username (agent: its --id)' },
  password: { type: 'string', placeholder: 'SECRET', description: 'MQTT password; better: the FEDMQ_PASSWORD environment variable, which ps does not show' },
};

/** The login to use: `--username`/`--password`, the password falling back to FEDMQ_PASSWORD. */
export function login(flags: Flags, defaultUsername?: string): { username?: string; password?: string } {
  const password = str(flags, 'password') ?? (process.env.FEDMQ_PASSWORD || undefined);
  const username = str(flags, 'username') ?? (password === undefined ? undefined : defaultUsername);
  return { ...(username !== undefined && { username }), ...(password !== undefined && { password }) };
}
