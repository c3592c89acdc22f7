import os from 'node:os';
import path from 'node:path';
import {
  DeviceAgent, FOLLOW_MODES, FileModelStore, FileResidualStore, PREDICTOR_RUNTIMES, PredictServer, connectDevice, expandHome, openPredictor,
  IDLE_LOAD, parsePredictorRuntime, parseServeAddress, parseTrainPolicy, readResources, type FollowMode,
} from '../device-agent/index.js';
import {
  MNIST_SHAPE, datasetExamples, deviceExamples, loadDataSource, loadDeviceData, parseDataSource, parseDeviceDataOptions,
  type DeviceDataConfig, type DeviceExamples,
} from '../datasets/index.js';
import { DEFAULT_FLEET, OptionsError } from '../protocol/index.js';
import { initBackend, type BackendName } from '../learning/index.js';
import { UsageError, num, str, type Command, type Flags } from './args.js';
import { clientTls, dataPath, deviceDataFlags, deviceDataOptions, login, loginFlags, tlsFlags } from './shared-flags.js';
import { formatBytes } from './format.js';
import { printable } from '../monitor/index.js';
import { onShutdown } from './signals.js';
import { readTrustedKey } from './keygen.js';

export const agentCommand: Command = {
  name: 'agent',
  summary: 'run a device: wait for rounds that select it, train on local data, publish the encoded update',
  examples: [
    'npx fedmq agent --broker mqtt://127.0.0.1:1883 --id pi-01 --data mnist:iid:1/3',
    'npx fedmq agent --broker mqtt://hub.local:1883 --id kitchen-sensor --data /var/lib/fedmq/readings.csv --label event --features temperature,humidity',
    'npx fedmq agent --broker mqtt://hub.local:1883 --id mote-3 --data /var/lib/fedmq/readings/ --time t --window 12 --stride 6 --holdout-by tail',
    'npx fedmq agent --broker mqtt://hub.local:1883 --id boiler --data boiler.ndjson --label kwh --target regression --holdout 0.1',
    'npx fedmq agent --broker mqtt://hub.local:1883 --id kitchen-sensor --data readings.csv --label event --serve 127.0.0.1:8765',
    'npx fedmq agent --broker mqtts://hub.local:8883 --id pi-01 --data mnist:iid:1/3 --ca certs/ca.crt --cert certs/device/pi-01.crt --key certs/device/pi-01.key',
    'npx fedmq agent --broker mqtt://hub.local:1883 --id phone-01 --data readings.csv --label event --train-when charging,idle,cpu-temp<70,battery>30',
  ],
  flags: {
    broker: { type: 'string', placeholder: 'URL', description: 'broker URL (required)' },
    id: { type: 'string', placeholder: 'ID', description: 'device id, also its MQTT client id (required)' },
    data: { type: 'string', placeholder: 'SOURCE', description: 'a CSV (with a header) / NDJSON file, a folder of them, or mnist:PARTITION:INDEX[/OF] (required)' },
    holdout: { type: 'string', placeholder: 'SHARE', description: 'share of the examples held out to evaluate globals on (federated evaluation)', default: '0.2; 0 for mnist:...' },
    ...deviceDataFlags,
    devices: { type: 'string', placeholder: 'N', description: 'fleet size OF for mnist:... without /OF', default: '10' },
    seed: { type: 'string', placeholder: 'N', description: 'seed of the held-out draw and of the mnist:... partition (match the simulation)', default: '0' },
    fleet: { type: 'string', placeholder: 'ID', description: 'fleet id', default: 'default' },
    backend: { type: 'string', placeholder: 'NAME', description: 'auto | tensorflow | wasm | cpu', default: 'auto' },
    follow: { type: 'string', placeholder: 'MODE', description: 'download the global always, or when-selected for a round', default: 'always' },
    'state-dir': { type: 'string', placeholder: 'DIR', description: 'where error-feedback residuals survive restarts and the newest global is kept (model.safetensors, for fedmq predict)', default: '~/.fedmq' },
    serve: {
      type: 'string', placeholder: 'HOST:PORT',
      description: "answer predictions with the newest kept global over HTTP: POST /predict {\"inputs\": [[...], ...]}, GET /health (503 until a model is held); loopback addresses only (127.0.0.1, ::1, localhost) unless --serve-public",
    },
    'serve-public': { type: 'boolean', description: '--serve may bind a non-loopback address: anyone who reaches it can use the model, with no login' },
    runtime: { type: 'string', placeholder: 'NAME', description: `where --serve predictions run: ${PREDICTOR_RUNTIMES.join(' | ')}`, default: 'auto' },
    'train-when': {
      type: 'string', placeholder: 'RULES',
      description: `train (and evaluate) only while every rule holds, else say busy and decline rounds: charging (on mains or charging), idle (1-min load average per CPU < ${IDLE_LOAD}), cpu-temp<C, battery>PERCENT, mem>MB (available), load<PER_CPU (also <=, >=); a rule this device cannot read (no battery, no thermal zone) holds`,
    },
    'check-every': { type: 'string', placeholder: 'SECONDS', description: 'how often --train-when is checked between rounds', default: '30' },
    trust: { type: 'string', placeholder: 'FILE', description: "the aggregator's public key (fedmq keygen's aggregator.pub): refuse every task, global, round and catch-up not signed by it, and replayed or expired ones" },
    ...loginFlags,
    ...tlsFlags,
  },

  async run(flags) {
    const url = str(flags, 'broker');
    const deviceId = str(flags, 'id');
    const dataSpec = str(flags, 'data');
    if (url === undefined || deviceId === undefined || dataSpec === undefined) {
      throw new UsageError('--broker, --id and --data are required');
    }
    const secure = await clientTls(flags, url);
    const named = secure?.identity;
    if (named !== undefined && (named.role !== 'device' || named.name !== deviceId)) {
      throw new UsageError(`--cert is ${named.role} ${named.name}'s certificate; device ${deviceId} needs its own (fedmq certs --role device --name ${deviceId})`);
    }
    // Every flag is checked before the backend loads, the data is read or the broker is reached.
    const loadData = dataLoader(flags, dataSpec);
    const follow = (str(flags, 'follow') ?? 'always') as FollowMode;
    if (!FOLLOW_MODES.includes(follow)) throw new UsageError(`--follow must be ${FOLLOW_MODES.join(' or ')}`);
    const serveSpec = str(flags, 'serve');
    if (serveSpec === undefined && (flags['serve-public'] === true || str(flags, 'runtime') !== undefined)) throw new UsageError('--serve-public and --runtime go with --serve');
    const serve = serveSpec === undefined ? undefined : parseServeAddress(serveSpec, flags['serve-public'] === true);
    const runtime = parsePredictorRuntime(str(flags, 'runtime') ?? 'auto');
    const trainWhen = str(flags, 'train-when');
    const policy = trainWhen === undefined ? undefined : parseTrainPolicy(trainWhen);
    const checkEvery = num(flags, 'check-every');
    if (checkEvery !== undefined && !(checkEvery >= 1 && checkEvery <= 86_400)) throw new UsageError(`--check-every must be a number of seconds in [1, 86400], got ${checkEvery}`);
    if (checkEvery !== undefined && policy === undefined) throw new UsageError('--check-every goes with --train-when');
    const trustFile = str(flags, 'trust');
    const trust = trustFile === undefined ? undefined : await readTrustedKey(trustFile, str(flags, 'fleet') ?? DEFAULT_FLEET);
    const backend = await initBackend((str(flags, 'backend') ?? 'auto') as BackendName | 'auto');
    const data = await loadData();
    const fleet = str(flags, 'fleet');
    const stateDir = expandHome(str(flags, 'state-dir') ?? path.join(os.homedir(), '.fedmq'));
    const models = new FileModelStore(stateDir);
    // Bound before the broker is reached: a port in use is a configuration error, said at once.
    let server: PredictServer | undefined;
    if (serve) {
      server = new PredictServer({ ...serve, open: (m) => openPredictor(m.task, m.weights, { runtime }) });
      server.on('serving', (s) => console.log(`predictions: global v${s.version} on ${s.runtime}`));
      server.on('warning', (e) => console.error(`warning: predictions: ${printable(e.message)}`));
      const bound = await server.listen();
      console.log(`serving predictions on http://${bound.host.includes(':') ? `[${bound.host}]` : bound.host}:${bound.port}/predict`);
      // The model kept by an earlier run answers until this run receives a newer one.
      const kept = await models.load().catch((e: Error) => {
        console.error(`warning: ${printable(e.message)}; predictions wait for the next global`);
        return null;
      });
      if (kept) void server.use(kept);
    }
    const client = await connectDevice({
      url, deviceId, fleet, ...login(flags, deviceId), ...(secure && { tls: secure.tls }),
      onRetry: (e) => console.log(`broker not reachable (${e.message}); retrying`),
    });
    const held = data.holdout === null ? '' : `, ${data.holdout.count} held out`;
    console.log(`agent ${deviceId}: ${data.train.count} local examples of [${data.shape.join(', ')}]${held}, backend ${backend}, connected to ${url}`);
    client.on('offline', () => console.log('connection lost; reconnecting'));
    client.on('connect', () => console.log('connected'));

    // Every status says what the device can spare (power, CPU temperature, load, memory).
    const resources = (): ReturnType<typeof readResources> => readResources();
    if (policy) {
      const unchecked = policy.unchecked(await resources());
      for (const why of unchecked) console.log(`--train-when ${why}; the rule holds`);
    }
    const agent = new DeviceAgent(client, { deviceId, fleet, data, follow }, {
      residuals: new FileResidualStore(stateDir, { onWarning: (e) => console.error(`warning: ${printable(e.message)}`) }),
      models, resources, ...(trust && { trust }),
      ...(policy && { policy, ...(checkEvery !== undefined && { policyEveryMs: checkEvery * 1000 }) }),
    });
    // One line when the device goes busy or the rules that fail change (not each new reading), one when it is back.
    let lastState = '';
    agent.on('status', (state, info) => {
      const now = state === 'busy' ? `busy ${(info.reason ?? '').split('; ').map((part) => part.split(': ')[0]).join(',')}` : state;
      if (state === 'busy' && now !== lastState) console.log(`busy, declining rounds: ${printable(info.reason ?? '')}`);
      else if (state === 'online' && lastState.startsWith('busy')) console.log(`--train-when ${policy?.text ?? ''} holds: online`);
      lastState = now;
    });
    agent.on('modelSaved', (m) => {
      console.log(`global v${m.version} (round ${m.round}) kept in ${models.file}`);
      void server?.use(m);
    });
    agent.on('trainingStarted', (r) => console.log(`round ${r.round}: training (E=${r.epochs}, B=${r.batchSize}, lr=${r.lr})`));
    agent.on('updatePublished', (u) => console.log(`round ${u.round}: published ${formatBytes(u.bytes)} update, train loss ${u.loss.toFixed(4)}${metricsText(u.metrics)}, ${(u.trainMs / 1000).toFixed(1)} s`));
    agent.on('evaluated', (e) => console.log(e.count === 0
      ? `round ${e.round}: asked to evaluate global ${e.globalVersion}; no held-out examples`
      : `round ${e.round}: evaluated global ${e.globalVersion} on ${e.count} held-out examples: loss ${e.loss.toFixed(4)}${metricsText(e.metrics)}`));
    agent.on('statisticsSent', (m) => console.log(`round ${m.round}: sent feature statistics of ${m.count} readings`));
    agent.on('roundSkipped', (s) => { if (s.reason !== 'not-selected') console.log(`round ${s.round}: skipped (${s.reason})`); });
    // Messages may quote what arrived from the network: printed escaped.
    agent.on('warning', (e) => console.error(`warning: ${printable(e.message)}`));
    if (trust) console.log(`trusting messages signed by key ${trust.keyId}`);
    agent.on('untrusted', (u) => console.error(`refused ${printable(u.detail)} (${u.reason}; ${u.total} refused so far)`));
    await agent.start();

    await new Promise<void>((resolve) => onShutdown((signal) => {
      console.log(`${signal}: going offline`);
      resolve();
    }));
    await agent.stop();
    await server?.close();
    await client.endAsync();
    console.log('agent stopped');
    return 0;
  },
};

/** `  acc 0.9123 f1 0.8000`: a round's metrics (accuracy shortened), finite ones only. */
function metricsText(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    .filter(([, v]) => Number.isFinite(v))
    .map(([k, v]) => ` ${k === 'accuracy' ? 'acc' : k} ${v.toFixed(4)}`)
    .join('');
}

/** Data flags that only a data file takes (not mnist:...). */
const FILE_ONLY_FLAGS = ['label', 'features', 'ignore', 'target', 'classes', 'time', 'window', 'stride', 'delimiter', 'holdout-by'] as const;

/**
 * Checks `--data` and the flags that shape it, at once, and returns what loads the device's
 * examples: a data file or folder read by named columns (no rescaling, a seeded held-out share,
 * 0.2 by default), or a share of MNIST (`mnist:...`; nothing held out by default, so MNIST runs
 * train as before). A bad row fails the load with its file, line and column.
 */
function dataLoader(flags: Flags, spec: string): () => Promise<DeviceExamples> {
  const seed = num(flags, 'seed') ?? 0;
  const holdout = str(flags, 'holdout');
  if (spec.trim() === 'mnist' || spec.trim().startsWith('mnist:')) {
    const stray = FILE_ONLY_FLAGS.find((f) => str(flags, f) !== undefined);
    if (stray !== undefined) throw new UsageError(`--${stray} reads a data file; --data ${spec} is MNIST (it takes --holdout, --devices and --seed)`);
    const source = parseDataSource(spec, { numDevices: num(flags, 'devices') ?? 10 });
    // The held-out share is checked as a data file's is (same rules, same message).
    const share = holdout === undefined ? 0 : parseDeviceDataOptions({ holdout }).holdout;
    return async () => datasetExamples(await loadDataSource(source, seed), MNIST_SHAPE, share, seed);
  }
  if (str(flags, 'devices') !== undefined) throw new UsageError('--devices is the fleet size of an mnist:... share; a data file is the device\'s own');
  const path = dataPath(flags, 'data') as string;
  const config: DeviceDataConfig = parseDeviceDataOptions({ ...deviceDataOptions(flags), ...(holdout !== undefined && { holdout }), seed });
  return async () => {
    const data = await loadDeviceData(path, config);
    try {
      return deviceExamples(data, config);
    } catch (error) {
      if (error instanceof RangeError) throw new OptionsError('holdout', `${path}: ${error.message}`, { cause: error });
      throw error;
    }
  };
}
