import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  Simulation, DEFAULT_DEVICES, DEFAULT_PARTITION, chartPath, loadFleetCertificates, loadFleetPasswords, simulationSpecs, trustOnly, writeRunChart,
  type FleetSecurity, type RunReport, type SimulationOptions,
} from '../simulator/index.js';
import { readPem } from '../broker/index.js';
import { printable } from '../monitor/index.js';
import { UsageError, num, str, writableFile, type Command, type Flags } from './args.js';
import { privacyStopLine, resumedLine, roundLine, settingsLine } from './format.js';
import { ProgressBar } from './progress.js';
import { onShutdown } from './signals.js';
import { dataPath, deviceDataFlags, deviceDataOptions, federationFlags, federationOptions, federationSettings, taskFlags, taskOptions, tlsFlags } from './shared-flags.js';

export const simulateCommand: Command = {
  name: 'simulate',
  summary: 'run a fleet on this machine: embedded broker, aggregator and N devices, each with its own MQTT connection',
  examples: [
    'npx fedmq simulate',
    'npx fedmq simulate --devices 20 --rounds 10 --partition shards:2 --seed 1 --report run.json',
    'npx fedmq simulate --broker mqtt://127.0.0.1:1883 --model 2nn --codec f32',
    'npx fedmq simulate --broker mqtts://hub.local:8883 --certs ./certs --devices 3 --rounds 2',
    'npx fedmq simulate --broker mqtt://hub.local:1883 --passwords sim-passwords.txt --devices 3 --rounds 2',
    'npx fedmq simulate --devices 50 --profiles pi-zero-2:0.3,pi-4:0.5,pi-5:0.2 --round-timeout 30 --quorum 20',
    'npx fedmq simulate --devices 50 --fraction 0.2 --mode async --buffer 5 --profiles pi-zero-2:0.3,pi-4:0.5,pi-5:0.2 --ms-per-example 0.5',
    'npx fedmq simulate --task examples/sensor/task.json --data examples/sensor/readings.csv --partition by:mote --label label --features humidity,temperature',
    'npx fedmq simulate --task task.json --data readings.csv --partition dirichlet:0.5 --devices 20 --time t --window 12 --stride 6 --holdout-by tail',
    'npx fedmq simulate --task keras/model.json --data readings.csv --partition by:device --evaluate central,federated --eval-data test.csv',
    'npx fedmq simulate --model 2nn --evaluate federated --holdout 0.1',
  ],
  flags: {
    devices: { type: 'string', placeholder: 'N', description: 'simulated devices (by:COLUMN: one per value)', default: String(DEFAULT_DEVICES) },
    partition: { type: 'string', placeholder: 'SPEC', description: 'iid | shards:K | dirichlet:ALPHA | by:COLUMN (with --data: one device per value of COLUMN)', default: DEFAULT_PARTITION },
    data: { type: 'string', placeholder: 'PATH', description: "the fleet's data: a CSV (with a header) / NDJSON file or a folder of them", default: 'MNIST' },
    'eval-data': { type: 'string', placeholder: 'FILE', description: 'central evaluation data for --data, read with the same flags' },
    holdout: { type: 'string', placeholder: 'SHARE', description: "share of each device's examples held out for federated evaluation", default: '0.2 with --evaluate federated, else 0' },
    ...taskFlags,
    ...deviceDataFlags,
    'group-by': { type: 'string', placeholder: 'COLUMN', description: 'data file: device id column; windows never cross its values (by:COLUMN sets it)' },
    broker: { type: 'string', placeholder: 'URL', description: 'use this broker instead of an embedded one' },
    passwords: { type: 'string', placeholder: 'FILE', description: "with --broker run with --auth: ROLE NAME PASSWORD lines, an aggregator's and each simulated device's (device-0, device-1, ...)" },
    certs: { type: 'string', placeholder: 'DIR', description: "with an mqtts:// or wss:// --broker run with --require-client-cert: a fedmq certs folder with an aggregator's and each simulated device's certificate" },
    ca: tlsFlags.ca!,
    sign: { type: 'boolean', description: "sign the fleet's task, global and round messages with a key made for this run, and start every device trusting it (as fedmq aggregator --sign-key and agent --trust)" },
    attack: { type: 'string', placeholder: 'SPEC', description: 'malicious devices: signflip|scale|noise|labelflip|zero:FRACTION[:PARAM]' },
    profiles: { type: 'string', placeholder: 'SPEC', description: 'device profiles (speed, links, dropout): pi-zero-2|pi-4|pi-5:SHARE,... or FILE.json' },
    overselect: { type: 'string', placeholder: 'F', description: 'choose F times the wanted participants, for dropouts (1.3 in Bonawitz et al. 2019)', default: '1' },
    follow: { type: 'string', placeholder: 'MODE', description: 'devices fetch the global always | when-selected', default: 'when-selected if fraction < 1' },
    workers: { type: 'string', placeholder: 'N', description: 'worker threads that train (0: the main thread)', default: 'the cores' },
    'ms-per-example': { type: 'string', placeholder: 'MS', description: 'simulated training ms per example and epoch of a speed-1 device (reproducible simulated time)', default: 'measured' },
    ...federationFlags,
  },

  async run(flags) {
    // Flags first (paths, task, data options), then the task file: nothing starts before all are checked.
    const data = dataPath(flags, 'data');
    const evalData = dataPath(flags, 'eval-data');
    const security = await fleetSecurity(flags);
    const { taskSource, taskNotes, ...task } = await taskOptions(flags);
    for (const note of taskNotes ?? []) console.log(`task: ${note}`);
    const simulation = new Simulation({
      ...federationOptions(flags),
      ...task,
      data,
      evalData,
      dataConfig: deviceDataOptions(flags),
      holdout: str(flags, 'holdout'),
      devices: num(flags, 'devices'),
      partition: str(flags, 'partition'),
      brokerUrl: str(flags, 'broker'),
      security,
      sign: flags.sign === true,
      attack: str(flags, 'attack'),
      profiles: str(flags, 'profiles'),
      overselect: num(flags, 'overselect'),
      follow: str(flags, 'follow') as SimulationOptions['follow'] | undefined,
      msPerExample: num(flags, 'ms-per-example'),
      workers: num(flags, 'workers'),
    });
    const o = simulation.options;
    const file = str(flags, 'report');
    // The report's own path was checked with the flags; its chart goes beside it.
    const chartProblem = file === undefined ? undefined : writableFile(chartPath(file));
    if (chartProblem !== undefined) throw new UsageError(`--report's chart ${chartProblem}`);
    const specs = simulationSpecs(o);
    console.log(`fedmq simulate: ${settingsLine({
      devices: o.partition.kind === 'by' ? specs.partition : o.devices, ...federationSettings(o), task: taskSource, partition: specs.partition,
      data: o.data, holdout: o.holdout > 0 ? o.holdout : undefined, evaluate: o.evaluate.join(',') === 'central' ? undefined : o.evaluate.join(','),
      'eval-data': o.evalData, attack: specs.attack, profiles: specs.profiles,
      overselect: o.overselect === 1 ? undefined : o.overselect, workers: o.workers, backend: o.backend, broker: o.brokerUrl ?? 'embedded', security: o.security?.describe, signed: o.sign ? 'yes' : undefined,
    })}`);

    const bar = new ProgressBar();
    let received = 0;
    let expected = 0;
    simulation.on('setup', ({ stage, detail }) => console.log(`${stage}: ${detail}`));
    simulation.on('resumed', (r) => console.log(resumedLine(r, o.rounds)));
    simulation.on('privacyStopped', (s) => {
      bar.clear();
      console.log(privacyStopLine(s));
    });
    // Async: round messages are dispatches; progress is the buffer filling toward the next global.
    let closed = 0;
    const label = (round: number): string => (o.mode === 'async' ? `global ${closed + 1}/${o.rounds} buffer` : `round ${round}/${o.rounds} updates`);
    simulation.on('roundStarted', (m) => {
      if (o.mode === 'async') return;
      received = 0;
      expected = m.participants.length;
      bar.update(label(m.round), 0, expected);
    });
    simulation.on('updateAccepted', (u) => {
      received += 1;
      bar.update(label(u.round), received, o.mode === 'async' ? o.buffer : expected);
    });
    simulation.on('updateRejected', (r) => {
      bar.clear();
      // With --broker, any client of that broker may publish: its strings are printed escaped.
      console.log(printable(`  rejected update from ${r.deviceId} in round ${r.round}: ${r.reason} (${r.detail})`));
    });
    simulation.on('deviceWarning', ({ deviceId, error }) => {
      bar.clear();
      console.error(printable(`  warning from ${deviceId}: ${error.message}`));
    });
    simulation.on('roundClosed', (r, entry) => {
      bar.clear();
      closed += 1;
      if (o.mode === 'async') received = 0;
      const dropped = (entry.dropped ? `, ${entry.dropped} dropped out` : '') + (entry.simLate ? `, ${entry.simLate} cut at the deadline` : '');
      console.log(roundLine(r, o.rounds) + (o.profiles === undefined ? '' : `  (simulated ${((entry.simMs ?? 0) / 1000).toFixed(1)} s${dropped})`));
    });
    const unhook = onShutdown(() => {
      bar.clear();
      console.error('stopping: the open round closes now with the updates it has (Ctrl-C again to quit at once)');
      simulation.stop();
    });
    try {
      const report = await simulation.run();
      const last = report.rounds.at(-1);
      const outcome = Number.isFinite(report.final.accuracy) ? `, accuracy ${report.final.accuracy.toFixed(4)}` : last && Number.isFinite(last.loss) ? `, loss ${last.loss.toFixed(4)}` : '';
      console.log(`done: ${report.final.rounds} round${report.final.rounds === 1 ? '' : 's'}${outcome}, ${(report.final.wallMs / 1000).toFixed(1)} s, backend ${report.environment.backend}`);
      const t = report.final.target;
      if (t) {
        const sim = t.simWallMs === undefined || o.profiles === undefined ? '' : `, ${(t.simWallMs / 1000).toFixed(1)} s of simulated fleet time`;
        console.log(t.reached ? `reached ${t.accuracy} at round ${t.round}${sim}` : `did not reach ${t.accuracy} in ${report.final.rounds} rounds`);
      }
      if (o.profiles !== undefined) console.log(`simulated fleet time: ${((report.final.simWallMs ?? 0) / 1000).toFixed(1)} s (${Object.entries(report.fleet?.profiles ?? {}).map(([k, v]) => `${v} ${k}`).join(', ')})`);
      if (report.fleet) console.log(`fleet: ${report.fleet.connected}/${report.fleet.devices} devices connected${report.fleet.attackers > 0 ? `, ${report.fleet.attackers} malicious` : ""}, peak RSS ${report.fleet.peakRssMb} MB`);
      return file === undefined ? 0 : await saveReport(report, file);
    } finally {
      unhook();
    }
  },
};

/**
 * Writes the report and its chart. The folder was checked at start; should the write fail all
 * the same (disk full, folder removed), the report goes to the temporary folder instead of
 * being lost with the run, and the exit code says it.
 */
async function saveReport(report: RunReport, file: string): Promise<number> {
  const json = JSON.stringify(report, null, 2) + '\n';
  try {
    await writeFile(file, json);
  } catch (error) {
    const rescue = path.join(os.tmpdir(), `fedmq-report-${process.pid}-${Date.now()}.json`);
    await writeFile(rescue, json);
    console.error(`cannot write the report to ${file} (${(error as Error).message}); written to ${rescue} instead`);
    return 1;
  }
  console.log(`report: ${file}`);
  console.log(`chart: ${await writeRunChart(report, file)}`);
  return 0;
}

/** `--passwords`, `--certs` and `--ca` read and checked: how the simulated fleet connects to an external broker. */
async function fleetSecurity(flags: Flags): Promise<FleetSecurity | undefined> {
  const [passwords, certs, caFile, url] = [str(flags, 'passwords'), str(flags, 'certs'), str(flags, 'ca'), str(flags, 'broker')];
  if (passwords === undefined && certs === undefined && caFile === undefined) return undefined;
  const given = passwords !== undefined ? '--passwords' : certs !== undefined ? '--certs' : '--ca';
  if (url === undefined) throw new UsageError(`${given} is for an external broker: give --broker URL`);
  if (passwords !== undefined && certs !== undefined) throw new UsageError('--passwords and --certs: give one (a certificate client is known by its certificate)');
  const secure = /^(mqtts|wss|tls|ssl):/.test(url);
  if (!secure && (certs !== undefined || caFile !== undefined)) throw new UsageError(`${certs !== undefined ? '--certs' : '--ca'} is for an mqtts:// or wss:// broker; ${url} is not encrypted`);
  const ca = caFile === undefined ? undefined : await readPem(caFile, 'ca', 'CA certificate');
  if (certs !== undefined) return loadFleetCertificates(certs, ca);
  if (passwords !== undefined) return loadFleetPasswords(passwords, ca);
  return trustOnly(ca!, `ca:${caFile}`);
}
