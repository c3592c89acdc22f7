import { writeFile } from 'node:fs/promises';
import { connectAggregator, coordinatorSpecs, createCoordinator, createEvaluator, parseCoordinatorOptions, registerAggregatorMetrics, type CoordinatorEvents } from '../aggregator/index.js';
import { assertTaskFits, deviceExamples, loadDeviceData, loadMnist, parseDeviceDataOptions, type Examples } from '../datasets/index.js';
import { initBackend } from '../learning/index.js';
import { buildReport, reportRound, type ReportRound } from '../simulator/index.js';
import { printable } from '../monitor/index.js';
import { isBuiltinTask } from '../protocol/index.js';
import { UsageError, num, seconds, str, type Command } from './args.js';
import { privacyStopLine, resumedLine, roundLine, settingsLine } from './format.js';
import { serveMetrics } from './metrics-server.js';
import { onShutdown } from './signals.js';
import { clientTls, dataPath, deviceDataFlags, deviceDataOptions, federationFlags, federationOptions, federationSettings, login, loginFlags, taskFlags, taskOptions, tlsFlags } from './shared-flags.js';
import { certificateClientId } from '../broker/index.js';
import { readSigningKey } from './keygen.js';

export const aggregatorCommand: Command = {
  name: 'aggregator',
  summary: 'coordinate rounds over a broker: select devices, collect and validate updates, aggregate, evaluate, publish',
  examples: [
    'npx fedmq aggregator --broker mqtt://127.0.0.1:1883 --rounds 10 --min-devices 3',
    'npx fedmq aggregator --broker mqtt://pi-hub.local:1883 --fraction 0.1 --min-participants 5 --round-timeout 300',
    'npx fedmq aggregator --broker mqtt://pi-hub.local:1883 --mode async --buffer 10 --fraction 0.2 --rounds 200',
    'npx fedmq aggregator --broker mqtt://pi-hub.local:1883 --rounds 500 --checkpoint /var/lib/fedmq/global.ckpt',
    'npx fedmq aggregator --broker mqtts://pi-hub.local:8883 --ca certs/ca.crt --cert certs/aggregator/hub.crt --key certs/aggregator/hub.key',
    'npx fedmq aggregator --broker mqtt://pi-hub.local:1883 --task examples/sensor/task.json --min-devices 4 --rounds 20',
  ],
  flags: {
    broker: { type: 'string', placeholder: 'URL', description: 'broker URL (required)' },
    'min-devices': { type: 'string', placeholder: 'N', description: 'devices online before round 1', default: 'min-participants' },
    'wait-devices': { type: 'string', placeholder: 'SECONDS', description: 'then start with whoever is online', default: '300' },
    eval: { type: 'string', placeholder: 'DATA', description: "central evaluation data: mnist (its 10k test set; built-in tasks) or a .csv/.ndjson file or folder read with the data flags", default: 'mnist for mlp|2nn|cnn, else none' },
    ...taskFlags,
    ...deviceDataFlags,
    ...loginFlags,
    ...tlsFlags,
    'sign-key': { type: 'string', placeholder: 'FILE', description: "sign every task, global and round message with this Ed25519 key (fedmq keygen), for agents started with --trust" },
    'metrics-port': { type: 'string', placeholder: '[HOST:]PORT', description: 'serve Prometheus metrics at http://HOST:PORT/metrics (host: 0.0.0.0)' },
    ...federationFlags,
  },

  async run(flags) {
    const url = str(flags, 'broker');
    if (url === undefined) throw new UsageError('--broker URL is required, e.g. --broker mqtt://127.0.0.1:1883');
    const secure = await clientTls(flags, url);
    if (secure?.identity !== undefined && secure.identity.role !== 'aggregator') {
      throw new UsageError(`--cert is ${secure.identity.role} ${secure.identity.name}'s certificate; the aggregator needs an aggregator certificate (fedmq certs --role aggregator --name NAME)`);
    }
    const { backend: wanted, ...federation } = federationOptions(flags);
    const { task, initialWeights, evaluate, taskNotes } = await taskOptions(flags);
    for (const note of taskNotes ?? []) console.log(`task: ${note}`);
    const evalSpec = str(flags, 'eval') === 'mnist' ? 'mnist' : dataPath(flags, 'eval');
    // Central evaluation where there is data for it: MNIST's test set for a built-in task, or --eval FILE.
    const where = evaluate ?? (evalSpec !== undefined ? ['central' as const] : undefined);
    // Every option is checked before anything loads or connects: a bad one fails at once, not after the broker is reached.
    const options = parseCoordinatorOptions({ ...federation, task, evaluate: where, minDevices: num(flags, 'min-devices'), waitForDevicesMs: seconds(flags, 'wait-devices') });
    const central = options.evaluate.includes('central');
    const builtin = isBuiltinTask(options.task);
    if (central && evalSpec === undefined && !builtin) throw new UsageError(`task ${options.task.name} has no central evaluation data: give --eval FILE, or --evaluate federated`);
    if (evalSpec === 'mnist' && !builtin) throw new UsageError(`--eval mnist evaluates the built-in MNIST tasks; task ${options.task.name} needs --eval FILE`);
    // An evaluation file is read as the task reads its data: the task's named features unless --features says otherwise.
    const dataFlags = deviceDataOptions(flags);
    const dataConfig = parseDeviceDataOptions({ ...(options.task.input.features && { features: options.task.input.features }), ...dataFlags, holdout: 0 });
    const backend = await initBackend(wanted ?? 'auto');
    let held: Examples | null = null;
    if (central && (evalSpec === undefined || evalSpec === 'mnist')) held = (await loadMnist()).test;
    else if (central && evalSpec !== undefined) {
      const examples = deviceExamples(await loadDeviceData(evalSpec, dataConfig), dataConfig);
      assertTaskFits(examples, options.task, `--eval ${evalSpec}`, 'eval');
      held = examples.train;
    }
    const signKey = str(flags, 'sign-key');
    const signer = signKey === undefined ? undefined : await readSigningKey(signKey);
    const identity = secure?.identity;
    const client = await connectAggregator({
      url, fleet: options.fleet, ...login(flags), ...(secure && { tls: secure.tls }),
      ...(identity && { clientId: certificateClientId(identity, `${options.fleet}-${process.pid}`) }),
    });
    const evaluator = held ? await createEvaluator(options.task, held) : null;
    const coordinator = createCoordinator(options, { client, ...(signer && { signer }), ...(evaluator && { evaluate: evaluator }), ...(initialWeights && { initialWeights }) });
    const o = coordinator.options;
    const metricsPort = str(flags, 'metrics-port');
    const metrics = metricsPort === undefined ? undefined : await serveMetrics(metricsPort, '0.0.0.0', (r) => registerAggregatorMetrics(coordinator, r));
    console.log(`fedmq aggregator: ${settingsLine({ broker: url, fleet: o.fleet, ...federationSettings(o), 'min-devices': o.minDevices, backend, evaluate: o.evaluate.join(','), eval: held ? `${evalSpec ?? 'mnist'} (${held.count})` : undefined })}`);

    if (metrics) console.log(`metrics on ${metrics.url}`);
    if (signer) console.log(`signing task, global and round messages with key ${signer.keyId}`);
    coordinator.on('waiting', (online, needed) => console.log(`waiting for devices: ${online}/${needed} online`));
    coordinator.on('resumed', (r) => console.log(resumedLine(r, o.rounds)));
    let privacyStop: CoordinatorEvents['privacyStopped'][0] | undefined;
    coordinator.on('privacyStopped', (s) => {
      privacyStop = s;
      console.log(privacyStopLine(s));
    });
    coordinator.on('roundStarted', (m) => console.log(o.mode === 'async'
      ? `dispatch ${m.round}: ${m.participants.length} device(s) sent off from global ${m.globalVersion}`
      : `round ${m.round}: ${m.participants.length} participants, deadline in ${Math.round((m.deadline - Date.now()) / 1000)} s`));
    coordinator.on('phaseStarted', (m) => console.log(m.kind === 'statistics'
      ? `statistics: asking ${m.participants.length} device(s) for their feature moments`
      : `round ${m.round}: ${m.participants.length} device(s) evaluate global ${m.globalVersion} on their held-out data`));
    coordinator.on('statisticsGathered', (s) => console.log(`statistics: ${s.devices} device(s), ${s.count} readings; mean ${s.mean.map((v) => v.toPrecision(4)).join(', ')}; std ${s.std.map((v) => v.toPrecision(4)).join(', ')}`));
    // Topics, ids and error details come from the broker's clients: printed escaped.
    coordinator.on('updateRejected', (r) => console.log(printable(`  rejected update from ${r.deviceId}: ${r.reason} (${r.detail})`)));
    coordinator.on('invalidMessage', ({ topic, error }) => console.log(printable(`  invalid message on ${topic}: ${error.message}`)));
    coordinator.on('replyRefused', (r) => console.log(printable(`  refused ${r.kind} reply from ${r.deviceId}: ${r.detail}`)));
    const rounds: ReportRound[] = [];
    coordinator.on('roundClosed', (r) => {
      rounds.push(reportRound(r));
      console.log(roundLine(r, o.rounds));
    });
    const unhook = onShutdown((signal) => {
      console.log(`${signal}: stopping: the open round closes now with the updates it has`);
      coordinator.stop();
    });
    const started = performance.now();
    try {
      await coordinator.run();
      const file = str(flags, 'report');
      if (file !== undefined) {
        const report = buildReport({ ...coordinatorSpecs(o), devices: coordinator.registry.all().length, brokerUrl: url }, backend, rounds, performance.now() - started, { ...(privacyStop && { privacyStop }) });
        await writeFile(file, JSON.stringify(report, null, 2) + '\n');
        console.log(`report: ${file}`);
      }
      const last = rounds.at(-1);
      console.log(`done: ${rounds.length} round${rounds.length === 1 ? '' : 's'}${last && Number.isFinite(last.accuracy) ? `, accuracy ${last.accuracy.toFixed(4)}` : ''}${last && Number.isFinite(last.loss) ? `, loss ${last.loss.toFixed(4)}` : ''}`);
      return 0;
    } finally {
      unhook();
      await metrics?.close();
      evaluator?.dispose();
      await client.endAsync();
    }
  },
};
