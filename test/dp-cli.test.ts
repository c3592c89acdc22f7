import { describe, expect, it } from 'vitest';
import { epsilon } from '../privacy/index.js';
import { expectRefusal, runCli as run } from './processes.js';

/**
 * `--dp` on the command line (dist/cli/main.js: build first): a spec or a combination that
 * cannot hold is refused in one line naming --dp, exit 2, before anything starts; a run over
 * its budget says why it stopped.
 */

const NOWHERE = 'mqtt://127.0.0.1:1';
const DP = 'noise:1,clip:0.5,delta:1e-5';

const CASES: [string[], RegExp][] = [
  [['simulate', '--dp', DP, '--strategy', 'median'], /^fedmq simulate: --dp: central DP cannot run with --strategy median: the coordinate-wise median needs the individual updates/],
  [['simulate', '--dp', DP, '--strategy', 'trimmed-mean:0.1'], /--dp: central DP cannot run with --strategy trimmed-mean:0.1: the coordinate-wise trimmed mean/],
  [['simulate', '--dp', DP, '--strategy', 'normbound:5+krum'], /--dp: central DP cannot run with --strategy normbound:5\+krum:1: Krum/],
  [['simulate', '--dp', DP, '--strategy', 'bucket:2+fedavg'], /--dp: .*bucketing needs the individual updates/],
  [['simulate', '--dp', DP, '--mode', 'async'], /--dp: async mode is not supported with DP/],
  [['simulate', '--dp', 'noise:1,clip:0.5'], /--dp: "noise:1,clip:0.5": /],
  [['simulate', '--dp', 'noise:-1,clip:0.5,delta:1e-5'], /--dp: /],
  [['simulate', '--dp', 'noise:1,clip:adaptive,delta:1e-5,local'], /--dp: .*adaptive clipping needs the aggregator/],
  [['simulate', '--dp', 'noise:1,clip:0.5,delta:2'], /--dp: .*delta/],
  [['aggregator', '--broker', NOWHERE, '--dp', DP, '--strategy', 'median'], /^fedmq aggregator: --dp: central DP cannot run with --strategy median/],
  [['aggregator', '--broker', NOWHERE, '--dp', 'noise:1'], /^fedmq aggregator: --dp: /],
];

describe('fedmq refuses --dp where it cannot hold, in one line naming --dp', () => {
  it.concurrent.each(CASES.map(([args, expected]) => ({ line: args.join(' '), args, expected })))('$line', async ({ args, expected }) => {
    const result = await run(args);

    expectRefusal(result, args, expected);
  });

  it('lists --dp and its grammar in --help', async () => {
    const help = await run(['simulate', '--help']);
    expect(help.stdout).toMatch(/--dp SPEC/);
    expect(help.stdout).toMatch(/noise:Z,clip:C\|adaptive,delta:D/);
  });
});

describe('fedmq simulate --dp with a budget', () => {
  it('stops before a round that would exceed the budget and prints why', async () => {
    // 2 devices, both chosen (q = 1): one round at z = 1 costs far more than 0.5.
    const after = epsilon(1, 1, 1, 1e-5);
    expect(after).toBeGreaterThan(0.5);

    const { code, stdout, stderr } = await run(['simulate', '--devices', '2', '--rounds', '3', '--model', '2nn', '--backend', 'wasm', '--dp', `${DP},budget:0.5`], 120_000);

    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/dp=noise:1,clip:0.5,delta:0.00001,budget:0.5/);
    const line = stdout.split('\n').find((l) => l.startsWith('stopped before round'));
    expect(line).toMatch(/^stopped before round 1 \(the privacy budget\): one more round \(q = 1\) would take epsilon from 0 to ([\d.]+), above the budget 0.5; epsilon spent 0.0000$/);
    expect(Number(/from 0 to ([\d.]+)/.exec(line!)![1])).toBeCloseTo(after, 3);
    expect(stdout).toMatch(/done: 0 rounds/);
  }, 150_000);
});
