import { statSync } from 'node:fs';
import type { ISecureClientOptions } from 'mqtt';
import { checkPair, identityOfCertificate, readPem, type CertificateIdentity } from '../broker/index.js';
import { CODEC_SPECS, DEFAULT_FLEET, type Task } from '../protocol/index.js';
import { EVALUATIONS, STRATEGY_SPECS, coordinatorSpecs, defaultCoordinatorOptions, loadTaskSource, type CoordinatorOptions, type CoordinatorSettings, type Evaluation } from '../aggregator/index.js';
import type { DeviceDataOptions, HoldoutBy, TargetKind } from '../datasets/index.js';
import type { BackendName } from '../learning/index.js';
import { DP_SPEC_GRAMMAR } from '../privacy/index.js';
import { UsageError, num, seconds, str, type FlagSpecs, type Flags } from './args.js';

const d = coordinatorSpecs(defaultCoordinatorOptions());

/** Flags of the federation itself, shared by `simulate` and `aggregator`. */
export const federationFlags: FlagSpecs = {
  fleet: { type: 'string', placeholder: 'ID', description: 'fleet id (topic prefix fedmq/v1/ID/)', default: DEFAULT_FLEET },
  rounds: { type: 'string', placeholder: 'N', description: 'federated rounds (the most, with --target-accuracy); async: new globals', default: String(d.rounds) },
  mode: { type: 'string', placeholder: 'MODE', description: 'sync (rounds wait for their participants) | async (FedBuff: a new global every --buffer updates, stale ones discounted)', default: d.mode },
  buffer: { type: 'string', placeholder: 'K', description: 'async: updates per new global', default: String(d.buffer) },
  'target-accuracy': { type: 'string', placeholder: 'ACC', description: 'stop once the test accuracy reaches ACC (e.g. 0.97)' },
  model: { type: 'string', placeholder: 'NAME', description: 'a built-in MNIST task: mlp | 2nn | cnn (shorthand for --task NAME)', default: d.model },
  fraction: { type: 'string', placeholder: 'C', description: 'share of online devices chosen per round (async: training at once)', default: String(d.fraction) },
  'min-participants': { type: 'string', placeholder: 'N', description: 'fewest devices chosen per round', default: String(d.minParticipants) },
  quorum: { type: 'string', placeholder: 'N', description: 'fewest accepted updates to change the global', default: String(d.quorum) },
  'round-timeout': { type: 'string', placeholder: 'SECONDS', description: 'deadline of each round', default: String(d.roundTimeoutMs / 1000) },
  epochs: { type: 'string', placeholder: 'E', description: 'local epochs', default: `the task's; ${d.epochs} for mlp|2nn|cnn` },
  'batch-size': { type: 'string', placeholder: 'B', description: 'local batch size', default: `the task's; ${d.batchSize} for mlp|2nn|cnn` },
  lr: { type: 'string', placeholder: 'RATE', description: "local learning rate (of the task's optimizer)", default: `the task's; ${d.lr} for mlp|2nn|cnn` },
  codec: { type: 'string', placeholder: 'SPEC', description: `update codec: ${CODEC_SPECS.join(' | ')} (e.g. topk:0.01+int8+ef)`, default: d.codec },
  strategy: { type: 'string', placeholder: 'SPEC', description: `aggregation: ${STRATEGY_SPECS.join(' | ')}`, default: d.strategy },
  downlink: { type: 'string', placeholder: 'SPEC', description: 'how the global travels: steps delta:SPEC[+ef] (e.g. delta:int8) | full f32 | f16', default: d.downlink },
  seed: { type: 'string', placeholder: 'N', description: 'seed of initialisation, selection, shuffles, rounding', default: String(d.seed) },
  backend: { type: 'string', placeholder: 'NAME', description: 'auto | tensorflow | wasm | cpu', default: 'auto' },
  report: { type: 'string', placeholder: 'FILE', description: 'write the run report (JSON) here' },
  checkpoint: { type: 'string', placeholder: 'FILE', description: 'save the global after every round; resume from it when it exists' },
  influence: { type: 'string', placeholder: 'MODE', description: "adaptive (scale an update longer than 4x the median accepted length down to it) | off", default: d.influence },
  dp: { type: 'string', placeholder: 'SPEC', description: `differential privacy (docs/privacy.md): ${DP_SPEC_GRAMMAR}; central DP-FedAvg unless local`, default: 'none' },
  secagg: { type: 'boolean', description: 'secure aggregation (SecAgg+, docs/privacy.md): the aggregator learns only the sum of each round\'s updates; replaces --codec with int32 quantization (clip 1 per coordinate); sync mode, mean-based strategies' },
};

export function federationOptions(flags: Flags): CoordinatorSettings & { backend?: BackendName | 'auto' } {
  return {
    fleet: str(flags, 'fleet'),
    rounds: num(flags, 'rounds'),
    mode: str(flags, 'mode') as CoordinatorOptions['mode'] | undefined,
    buffer: num(flags, 'buffer'),
    targetAccuracy: num(flags, 'target-accuracy'),
    model: str(flags, 'model'),
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
    dp: str(flags, 'dp'),
    secagg: flags.secagg === true ? true : undefined,
    backend: str(flags, 'backend') as BackendName | 'auto' | undefined,
  };
}

/** The federation's settings as the start-up line prints them (`settingsLine`), specs as given on the command line. */
export function federationSettings(o: CoordinatorOptions): Record<string, string | number | undefined> {
  const s = coordinatorSpecs(o);
  return {
    rounds: s.rounds, mode: s.mode === 'async' ? `async, buffer ${s.buffer}` : undefined, fraction: s.fraction, model: s.model,
    epochs: s.epochs, 'batch-size': s.batchSize, lr: s.lr, strategy: s.strategy, downlink: s.downlink, seed: s.seed,
    codec: o.secagg ? `secagg int32 (clip ${o.secagg.clip}; replaces ${o.secagg.replaces}, no error feedback)` : s.codec,
    'round-timeout': `${s.roundTimeoutMs / 1000}s`, dp: s.dp,
  };
}

/** What the fleet learns and where globals are evaluated (`simulate`; the aggregator's to adopt). */
export const taskFlags: FlagSpecs = {
  task: { type: 'string', placeholder: 'TASK', description: 'what the fleet learns: mlp | 2nn | cnn, a task .json file, or a TensorFlow.js model.json (its weights start the global)', default: '--model' },
  evaluate: { type: 'string', placeholder: 'WHERE', description: "evaluate each global: central (on the aggregator's data) | federated (on the devices' held-out data) | central,federated", default: 'central for mlp|2nn|cnn, else federated' },
};

/** `--task` (or `--model`) loaded, and `--evaluate` read: the coordinator settings they give. */
export async function taskOptions(flags: Flags): Promise<{ task?: Task; initialWeights?: Float32Array; taskSource?: string; taskNotes?: string[]; evaluate?: Evaluation[] }> {
  const spec = str(flags, 'task');
  if (spec !== undefined && str(flags, 'model') !== undefined) {
    throw new UsageError(`--task and --model both name the task: give one (--model ${str(flags, 'model')} is --task ${str(flags, 'model')})`);
  }
  const evaluate = str(flags, 'evaluate');
  const where = evaluate?.split(',').map((e) => e.trim()) as Evaluation[] | undefined;
  if (where !== undefined && (where.length === 0 || where.some((e) => !(EVALUATIONS as readonly string[]).includes(e)))) {
    throw new UsageError(`--evaluate must be central, federated or central,federated, got "${evaluate}"`);
  }
  if (spec === undefined) return { evaluate: where };
  const source = await loadTaskSource(spec);
  return { task: source.task, initialWeights: source.weights, taskSource: source.source, taskNotes: source.notes, evaluate: where };
}

/** How a device's data file is read: the flags of `agent` and `simulate` (datasets/deviceDataOptions.ts). */
export const deviceDataFlags: FlagSpecs = {
  label: { type: 'string', placeholder: 'COLUMN', description: 'data file: the target column', default: 'label' },
  features: { type: 'string', placeholder: 'A,B,C', description: 'data file: feature columns, in order', default: 'every other column' },
  ignore: { type: 'string', placeholder: 'A,B', description: 'data file: columns that are not features (without --features)' },
  target: { type: 'string', placeholder: 'KIND', description: 'data file: classification | regression', default: 'classification' },
  classes: { type: 'string', placeholder: 'A,B,C', description: 'data file: class labels in index order (declare them so every device numbers them alike)', default: '0..max for integer labels, else sorted' },
  time: { type: 'string', placeholder: 'COLUMN', description: 'data file: time column (number or ISO 8601), must not decrease' },
  window: { type: 'string', placeholder: 'N', description: 'data file: readings per example (a sequence for conv1d/GRU/LSTM tasks)', default: '1' },
  stride: { type: 'string', placeholder: 'S', description: 'data file: readings between window starts', default: '1' },
  delimiter: { type: 'string', placeholder: 'CHAR', description: 'data file: CSV field separator', default: ',' },
  'holdout-by': { type: 'string', placeholder: 'HOW', description: 'data file: held-out examples drawn at random (example) or the last of each sequence in time (tail)', default: 'example' },
};

/** The device-data flags given, as `DeviceDataOptions` (checked by `parseDeviceDataOptions`, which names the flag). */
export function deviceDataOptions(flags: Flags): DeviceDataOptions {
  const options: DeviceDataOptions = {
    label: str(flags, 'label'),
    features: str(flags, 'features'),
    ignore: str(flags, 'ignore'),
    target: str(flags, 'target') as TargetKind | undefined,
    classes: str(flags, 'classes'),
    groupBy: str(flags, 'group-by'),
    time: str(flags, 'time'),
    window: str(flags, 'window'),
    stride: str(flags, 'stride'),
    delimiter: unescapeDelimiter(str(flags, 'delimiter')),
    holdoutBy: str(flags, 'holdout-by') as HoldoutBy | undefined,
  };
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as DeviceDataOptions;
}

/** `--delimiter '\t'` (what a shell passes for a tab) is a tab. */
function unescapeDelimiter(v: string | undefined): string | undefined {
  return v === '\\t' ? '\t' : v;
}

/** A data path given on the command line (`--data`, `--eval-data`): it must be a file or a folder, checked at start. */
export function dataPath(flags: Flags, name: string): string | undefined {
  const v = str(flags, name);
  if (v === undefined) return undefined;
  let isData = false;
  try {
    const s = statSync(v);
    isData = s.isFile() || s.isDirectory();
  } catch (e) {
    throw new UsageError(`--${name} "${v}": ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : (e as Error).message}`);
  }
  if (!isData) throw new UsageError(`--${name} "${v}" is neither a file nor a folder`);
  return v;
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

/** TLS flags of the clients (`agent`, `aggregator`, `monitor`; `simulate` takes `--ca`), for `mqtts://` and `wss://` URLs. */
export const tlsFlags: FlagSpecs = {
  ca: { type: 'string', placeholder: 'FILE', description: 'mqtts:// or wss://: trust this CA certificate (fedmq certs: DIR/ca.crt)', default: "the system's CAs" },
  cert: { type: 'string', placeholder: 'FILE', description: 'mutual TLS: this client certificate (fedmq certs: DIR/ROLE/NAME.crt); the broker knows the client by its name (CN) and role (OU)' },
  key: { type: 'string', placeholder: 'FILE', description: "mutual TLS: --cert's private key (DIR/ROLE/NAME.key)" },
};

/** What `--ca`, `--cert` and `--key` give a client: mqtt.js's TLS options, and who the certificate says the client is. */
export interface ClientTls {
  readonly tls: ISecureClientOptions;
  readonly identity: CertificateIdentity | undefined;
}

/**
 * `--ca`, `--cert` and `--key` read and checked before anything connects: each file must be PEM,
 * the key the certificate's, the certificate must name a client, the URL must be `mqtts://` or
 * `wss://`. `undefined` when none is given. A mistake is one line naming the flag.
 */
export async function clientTls(flags: Flags, url: string): Promise<ClientTls | undefined> {
  const [caFile, certFile, keyFile] = [str(flags, 'ca'), str(flags, 'cert'), str(flags, 'key')];
  if (caFile === undefined && certFile === undefined && keyFile === undefined) return undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError('--cert and --key go together: the client certificate and its private key');
  if (!/^(mqtts|wss|tls|ssl):/.test(url)) throw new UsageError(`--ca, --cert and --key are for mqtts:// and wss:// brokers; ${url} is not encrypted`);
  const tls: ISecureClientOptions = {};
  if (caFile !== undefined) tls.ca = await readPem(caFile, 'ca', 'CA certificate');
  if (certFile === undefined || keyFile === undefined) return { tls, identity: undefined };
  const cert = await readPem(certFile, 'cert', 'certificate');
  const key = await readPem(keyFile, 'key', 'key');
  checkPair(cert, key, certFile, keyFile, 'cert', 'key');
  const identity = identityOfCertificate(cert);
  if ('problem' in identity) throw new UsageError(`--cert ${certFile}: ${identity.problem}`);
  return { tls: { ...tls, cert, key }, identity };
}
