import os from 'node:os';
import path from 'node:path';
import { DeviceAgent, FOLLOW_MODES, FileResidualStore, connectDevice, type FollowMode } from '../device-agent/index.js';
import { loadDataSource, parseDataSource } from '../datasets/index.js';
import { initBackend, type BackendName } from '../learning/index.js';
import { UsageError, num, str, type Command } from './args.js';
import { login, loginFlags } from './shared-flags.js';
import { formatBytes } from './format.js';
import { printable } from '../monitor/index.js';
import { onShutdown } from './signals.js';

export const agentCommand: Command = {
  name: 'agent',
  summary: 'run a device: wait for rounds that select it, train on local data, publish the encoded update',
  examples: [
    'npx fedmq agent --broker mqtt://127.0.0.1:1883 --id pi-01 --data mnist:iid:1/3',
    'npx fedmq agent --broker mqtt://hub.local:1883 --id kitchen-sensor --data /var/lib/fedmq/examples.csv',
  ],
  flags: {
    broker: { type: 'string', placeholder: 'URL', description: 'broker URL (required)' },
    id: { type: 'string', placeholder: 'ID', description: 'device id, also its MQTT client id (required)' },
    data: { type: 'string', placeholder: 'SOURCE', description: 'mnist:PARTITION:INDEX[/OF] or a .csv/.ndjson file (required)' },
    devices: { type: 'string', placeholder: 'N', description: 'fleet size OF for mnist:... without /OF', default: '10' },
    seed: { type: 'string', placeholder: 'N', description: 'partition seed for mnist:... (match the simulation)', default: '0' },
    fleet: { type: 'string', placeholder: 'ID', description: 'fleet id', default: 'default' },
    backend: { type: 'string', placeholder: 'NAME', description: 'auto | tensorflow | wasm | cpu', default: 'auto' },
    follow: { type: 'string', placeholder: 'MODE', description: 'download the global always, or when-selected for a round', default: 'always' },
    'state-dir': { type: 'string', placeholder: 'DIR', description: 'where error-feedback residuals survive restarts', default: '~/.fedmq' },
    ...loginFlags,
  },

  async run(flags) {
    const url = str(flags, 'broker');
    const deviceId = str(flags, 'id');
    const dataSpec = str(flags, 'data');
    if (url === undefined || deviceId === undefined || dataSpec === undefined) {
      throw new UsageError('--broker, --id and --data are required');
    }
    const source = parseDataSource(dataSpec, { numDevices: num(flags, 'devices') ?? 10 });
    const backend = await initBackend((str(flags, 'backend') ?? 'auto') as BackendName | 'auto');
    const data = await loadDataSource(source, num(flags, 'seed') ?? 0);
    const fleet = str(flags, 'fleet');
    const client = await connectDevice({
      url, deviceId, fleet, ...login(flags, deviceId),
      onRetry: (e) => console.log(`broker not reachable (${e.message}); retrying`),
    });
    console.log(`agent ${deviceId}: ${data.count} local examples, backend ${backend}, connected to ${url}`);
    client.on('offline', () => console.log('connection lost; reconnecting'));
    client.on('connect', () => console.log('connected'));

    const stateDir = str(flags, 'state-dir') ?? path.join(os.homedir(), '.fedmq');
    const follow = (str(flags, 'follow') ?? 'always') as FollowMode;
    if (!FOLLOW_MODES.includes(follow)) throw new UsageError(`--follow must be ${FOLLOW_MODES.join(' or ')}`);
    const agent = new DeviceAgent(client, { deviceId, fleet, data, follow }, { residuals: new FileResidualStore(stateDir, { onWarning: (e) => console.error(`warning: ${printable(e.message)}`) }) });
    agent.on('trainingStarted', (r) => console.log(`round ${r.round}: training (E=${r.epochs}, B=${r.batchSize}, lr=${r.lr})`));
    agent.on('updatePublished', (u) => console.log(`round ${u.round}: published ${formatBytes(u.bytes)} update, train loss ${u.loss.toFixed(4)} acc ${u.accuracy.toFixed(4)}, ${(u.trainMs / 1000).toFixed(1)} s`));
    agent.on('roundSkipped', (s) => { if (s.reason !== 'not-selected') console.log(`round ${s.round}: skipped (${s.reason})`); });
    // Messages may quote what arrived from the network: printed escaped.
    agent.on('warning', (e) => console.error(`warning: ${printable(e.message)}`));
    await agent.start();

    await new Promise<void>((resolve) => onShutdown((signal) => {
      console.log(`${signal}: going offline`);
      resolve();
    }));
    await agent.stop();
    await client.endAsync();
    console.log('agent stopped');
    return 0;
  },
};
