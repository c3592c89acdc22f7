import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_BATCH_SIZE, MAX_EPOCHS, MAX_LR, MAX_ROUND_MS } from '../protocol/index.js';
import { expectRefusal, runCli as run } from './processes.js';

/**
 * Every command refuses a flag that cannot work at start, in one line naming the flag (then the
 * `--help` hint), exit code 2, before it prints a settings line, listens, connects or trains.
 * A case that is not refused runs (or retries a broker that is not there) until the timeout.
 */
const tmp = mkdtempSync(path.join(os.tmpdir(), 'fedmq-cli-flags-'));
const aFile = path.join(tmp, 'a-file');
writeFileSync(aFile, 'x');
// The report's chart (run.html) would land on a folder.
mkdirSync(path.join(tmp, 'run.html'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// Device data and a task that fits it, for the --data / --task cases.
const readings = path.join(tmp, 'readings.csv');
writeFileSync(readings, 'mote,a,b,label\n1,0.5,20,0\n1,0.7,21,1\n2,0.1,19,0\n2,0.2,18,1\n');
const badRow = path.join(tmp, 'bad-row.csv');
writeFileSync(badRow, 'mote,a,b,label\n1,0.5,20,0\n1,0.7,n/a,1\n');
const taskFile = path.join(tmp, 'task.json');
writeFileSync(taskFile, JSON.stringify({ name: 'motes', input: { features: ['a', 'b'] }, output: { kind: 'binary' }, model: { layers: [{ kind: 'dense', units: 1 }] } }));

const NOWHERE = 'mqtt://127.0.0.1:1';
const AGENT = ['agent', '--broker', NOWHERE, '--id', 'pi-01', '--data', 'mnist:iid:0/3'];
const AGENT_FILE = ['agent', '--broker', NOWHERE, '--id', 'pi-01', '--data', readings];
const SIMULATE_DATA = ['simulate', '--task', taskFile, '--data', readings];
const AGGREGATOR = ['aggregator', '--broker', NOWHERE];
const BROKER = ['broker', '--host', '127.0.0.1', '--port', '0'];

/** [command line, what the error line must say]. */
const CASES: [string[], RegExp][] = [
  // Negative numbers: Node's parseArgs took them for flags ("argument is ambiguous", four lines).
  [['simulate', '--devices', '-3'], /--devices: must be an integer in \[1, 100000\], got -3/],
  [['simulate', '--rounds', '-1'], /--rounds: .*got -1/],
  [['simulate', '--lr', '-0.5'], /--lr: .*got -0.5/],
  [['simulate', '--seed', '-1'], /--seed expects an integer/],
  [['simulate', '--workers', '-2'], /--workers: .*got -2/],
  [['simulate', '--ms-per-example', '-1'], /--ms-per-example: /],
  [['simulate', '--round-timeout', '-5'], /--round-timeout expects seconds/],
  [['simulate', '--target-accuracy', '-1'], /--target-accuracy: /],
  // Beyond what the protocol lets a round ask: every device would refuse every round.
  [['simulate', '--batch-size', '1e12'], /--batch-size: .*got 1000000000000/],
  [['simulate', '--batch-size', String(MAX_BATCH_SIZE + 1)], /--batch-size: /],
  [['simulate', '--epochs', String(MAX_EPOCHS + 1)], /--epochs: /],
  [['simulate', '--lr', String(MAX_LR * 2)], /--lr: /],
  [['simulate', '--round-timeout', String(MAX_ROUND_MS / 1000 + 1)], /--round-timeout \(roundTimeoutMs\): /],
  [['simulate', '--strategy', 'fedprox:1000'], /--strategy: .*mu/],
  // A quorum the fleet can never meet.
  [['simulate', '--devices', '3', '--strategy', 'krum:99'], /--strategy: krum:99 needs 201 .* 3 devices/],
  [['simulate', '--devices', '3', '--quorum', '50'], /--quorum: is 50 but the fleet has 3 devices/],
  [['simulate', '--devices', '10', '--fraction', '0.2', '--quorum', '3'], /--quorum: .*at most 2 of the fleet's 10/],
  [['simulate', '--mode', 'async', '--buffer', '2', '--quorum', '3'], /--quorum: .*buffer/],
  // Files written at the end or during the run: checked at start.
  [['simulate', '--report', path.join(tmp, 'missing', 'run.json')], /--report .*does not exist/],
  [['simulate', '--report', path.join(aFile, 'run.json')], /--report .*is not a folder/],
  [['simulate', '--report', tmp], /--report .*is a folder/],
  [['simulate', '--report', path.join(tmp, 'run.json')], /--report's chart .*run\.html" is a folder/],
  [['simulate', '--checkpoint', path.join(aFile, 'x', 'g.ckpt')], /--checkpoint .*is a file, not a folder/],
  [['simulate', '--checkpoint', tmp], /--checkpoint .*is not a file/],
  // Zero, NaN, huge, malformed, unknown, missing or doubled.
  [['simulate', '--devices', '0'], /--devices: /],
  [['simulate', '--devices', 'NaN'], /--devices expects a number/],
  [['simulate', '--devices', '1e9'], /--devices: /],
  [['simulate', '--rounds', 'Infinity'], /--rounds expects a number/],
  [['simulate', '--rounds', '0x10'], /--rounds expects a number/],
  [['broker', '--port', ' 1883'], /--port expects an integer/],
  [['simulate', '--fraction', '0'], /--fraction: /],
  [['simulate', '--overselect', '100'], /--overselect: /],
  [['simulate', '--buffer', '0'], /--buffer: /],
  [['simulate', '--seed', '4294967296'], /--seed expects an integer/],
  [['simulate', '--follow', 'sometimes'], /--follow must be always \| when-selected/],
  [['simulate', '--broker', 'localhost'], /--broker expects a URL/],
  [['simulate', '--broker', 'http://127.0.0.1:1883'], /--broker expects mqtt:\/\//],
  [['simulate', '--devices'], /--devices needs a value/],
  [['simulate', '--fleet', '--devices', '3'], /--fleet needs a value/],
  [['simulate', '--devices', '3', '--devices', '4'], /--devices is given twice/],
  [['simulate', '--bogus'], /unknown option "--bogus"/],
  [['simulate', 'extra'], /unexpected argument "extra"/],
  // simulate: the task, the data and how it is read and evaluated, refused before anything loads.
  [['simulate', '--task', 'mlp', '--model', '2nn'], /--task and --model both name the task/],
  [['simulate', '--task', path.join(tmp, 'missing.json')], /--task: .*missing\.json: cannot read/],
  [['simulate', '--task', aFile], /--task: .*a-file: not JSON/],
  [['simulate', '--data', path.join(tmp, 'missing.csv')], /--data ".*missing\.csv": no such file or folder/],
  [['simulate', '--eval-data', path.join(tmp, 'missing.csv')], /--eval-data ".*missing\.csv": no such file or folder/],
  [['simulate', '--partition', 'by:mote'], /--partition: by:mote splits a data file by its column 'mote': give data/],
  [['simulate', '--partition', 'by:'], /--partition: 'by:': no column named/],
  [[...SIMULATE_DATA, '--partition', 'by:mote', '--devices', '3'], /--devices: by:mote makes one device per value of 'mote'/],
  [[...SIMULATE_DATA, '--partition', 'by:mote', '--group-by', 'a'], /--group-by: is 'a' but the partition is by:mote/],
  [['simulate', '--label', 'y'], /--label: reads a data file: give data/],
  [['simulate', '--window', '12'], /--window: reads a data file/],
  [[...SIMULATE_DATA, '--window', '0'], /--window: must be a positive integer, got "0"/],
  [[...SIMULATE_DATA, '--stride', '1.5'], /--stride: must be a positive integer/],
  [[...SIMULATE_DATA, '--holdout', '1'], /--holdout: must be a fraction in \[0, 1\)/],
  [[...SIMULATE_DATA, '--holdout', '0'], /--holdout: is 0, but federated evaluation runs on the devices' held-out examples/],
  [[...SIMULATE_DATA, '--holdout-by', 'random'], /--holdout-by: must be one of 'example', 'tail'/],
  [[...SIMULATE_DATA, '--target', 'ranking'], /--target: must be one of 'classification', 'regression'/],
  [[...SIMULATE_DATA, '--target', 'regression', '--partition', 'dirichlet:0.5'], /--partition: dirichlet:0.5 splits by class label; a regression target has none/],
  [[...SIMULATE_DATA, '--features', 'a,a'], /--features: 'a' is listed twice/],
  [[...SIMULATE_DATA, '--classes', 'normal'], /--classes: needs at least 2 classes/],
  [[...SIMULATE_DATA, '--delimiter', ';;'], /--delimiter: must be one character/],
  [['simulate', '--evaluate', 'somewhere'], /--evaluate must be central, federated or central,federated, got "somewhere"/],
  [[...SIMULATE_DATA, '--evaluate', 'central'], /--evaluate: central evaluation of a run on a data file needs evaluation data \(--eval-data FILE\)/],
  [[...SIMULATE_DATA, '--eval-data', readings], /--eval-data: is central evaluation data, but evaluate is federated/],
  [['simulate', '--eval-data', readings], /--eval-data: evaluates a run on a data file: give data too/],
  [['simulate', '--holdout', '0.5', '--holdout-by', 'tail'], /--holdout-by: reads a data file/],
  // aggregator: options refused before it loads data or reaches the broker.
  [[...AGGREGATOR, '--rounds', '0'], /--rounds: /],
  [[...AGGREGATOR, '--batch-size', '1e12'], /--batch-size: /],
  [[...AGGREGATOR, '--min-devices', '0'], /--min-devices: /],
  [[...AGGREGATOR, '--wait-devices', '-1'], /--wait-devices expects seconds/],
  [[...AGGREGATOR, '--metrics-port', '70000'], /--metrics-port expects PORT/],
  [[...AGGREGATOR, '--eval', 'nonsense'], /--eval "nonsense": no such file or folder/],
  [[...AGGREGATOR, '--task', 'examples/sensor/task.json', '--evaluate', 'central'], /task sensor-anomaly has no central evaluation data: give --eval FILE, or --evaluate federated/],
  [[...AGGREGATOR, '--task', 'examples/sensor/task.json', '--eval', 'mnist'], /--eval mnist evaluates the built-in MNIST tasks/],
  [[...AGGREGATOR, '--report', path.join(tmp, 'missing', 'r.json')], /--report .*does not exist/],
  [['aggregator', '--broker', 'not a url'], /--broker expects a URL/],
  // broker: refused before it listens.
  [[...BROKER, '--stats-interval', 'abc'], /--stats-interval expects seconds/],
  [[...BROKER, '--stats-interval', '1e7'], /--stats-interval expects seconds/],
  [[...BROKER, '--metrics-port', '99999'], /--metrics-port expects PORT/],
  [['broker', '--port', '-1'], /--port expects an integer in \[0, 65535\]/],
  [['broker', '--port', '70000'], /--port expects an integer/],
  [['broker', '--ws-port', '1.5'], /--ws-port expects an integer/],
  // agent: refused before it connects.
  [[...AGENT, '--follow', 'sometimes'], /--follow must be/],
  [[...AGENT, '--seed', '-1'], /--seed expects an integer/],
  [['agent', '--broker', 'nowhere', '--id', 'pi-01', '--data', 'mnist:iid:0/3'], /--broker expects a URL/],
  [['agent', '--broker', NOWHERE, '--id', 'pi-01', '--data', path.join(tmp, 'missing.csv')], /--data ".*missing\.csv": no such file or folder/],
  [['agent', '--broker', NOWHERE, '--id', 'pi-01', '--data', 'mnist:iid:9/3'], /--data: 'mnist:iid:9\/3': client index 9/],
  [[...AGENT, '--label', 'y'], /--label reads a data file; --data mnist:iid:0\/3 is MNIST/],
  [[...AGENT, '--holdout', '2'], /--holdout: must be a fraction in \[0, 1\)/],
  [[...AGENT, '--holdout-by', 'tail'], /--holdout-by reads a data file/],
  [[...AGENT_FILE, '--devices', '3'], /--devices is the fleet size of an mnist:\.\.\. share/],
  [[...AGENT_FILE, '--window', 'x'], /--window: must be a positive integer, got "x"/],
  [[...AGENT_FILE, '--holdout', '-0.1'], /--holdout: must be a fraction/],
  [[...AGENT_FILE, '--holdout-by', 'random'], /--holdout-by: must be one of/],
  [[...AGENT_FILE, '--label', 'a', '--features', 'a,b'], /--features: column 'a' is the label column/],
  [[...AGENT_FILE, '--target', 'regression', '--classes', '0,1'], /--classes: a regression target has no classes/],
  [[...AGENT_FILE, '--time', ' '], /--time: must name a column/],
  [[...AGENT_FILE, '--group-by', 'mote'], /unknown option "--group-by"/],
  // monitor.
  [['monitor', '--web', '-1'], /--web expects an integer/],
  [['monitor', '--web', '70000', '--ws-url', 'ws://127.0.0.1:1'], /--web expects an integer/],
  [['monitor', '--broker', 'notaurl'], /--broker expects a URL/],
  [['monitor', '--broker', NOWHERE, '--json=yes'], /--json takes no value/],
];


describe('fedmq agent refuses bad data', () => {
  it('names the file, line and column of a bad row, exit 1, before it reaches the broker', async () => {
    const { code, stdout, stderr } = await run(['agent', '--broker', NOWHERE, '--id', 'pi-01', '--data', badRow]);

    expect({ code, stdout, stderr: stderr.trimEnd() }).toEqual({
      code: 1, stdout: '', stderr: `fedmq agent: ${badRow}:3: column 'b' (3): "n/a" is not a number (a feature must be a finite decimal number)`,
    });
  });

  it('refuses a held-out share that leaves nothing to train on', async () => {
    const one = path.join(tmp, 'one-row.csv');
    writeFileSync(one, 'a,label\n1,0\n');

    const { code, stderr } = await run(['agent', '--broker', NOWHERE, '--id', 'pi-01', '--data', one, '--holdout', '0.6']);

    expect({ code, line: stderr.split('\n')[0] }).toEqual({ code: 2, line: `fedmq agent: --holdout: ${one}: no training examples are left after holding out 60% (by example) of 1` });
  });
});

describe('fedmq refuses bad flags at start, in one line naming the flag', () => {
  it.concurrent.each(CASES.map(([args, expected]) => ({ line: args.join(' '), args, expected })))('$line', async ({ args, expected }) => {
    // Execute
    const result = await run(args);

    // Assert: exit 2, nothing started (no settings or listening line), the error then the help hint.
    expectRefusal(result, args, expected);
  });
});
