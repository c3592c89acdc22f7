import { describe, expect, it } from 'vitest';
import { expectRefusal, runCli as run } from './processes.js';

/**
 * `--secagg` on the command line (dist/cli/main.js: build first): where secure aggregation
 * cannot hold it is refused in one line naming --secagg with the reason, exit 2, before
 * anything starts; a run says in its start-up line that the codec was replaced.
 */

const NOWHERE = 'mqtt://127.0.0.1:1';

const CASES: [string[], RegExp][] = [
  [['simulate', '--secagg', '--strategy', 'median'], /^fedmq simulate: --secagg: secure aggregation cannot run with --strategy median: the coordinate-wise median needs the individual updates, and under secure aggregation the aggregator learns only their sum; use fedavg/],
  [['simulate', '--secagg', '--mode', 'async'], /^fedmq simulate: --secagg: async mode is not supported with secure aggregation: .*use --mode sync$/],
  [['simulate', '--secagg', '--strategy', 'trimmed-mean:0.1'], /--secagg: .*the coordinate-wise trimmed mean needs the individual updates/],
  [['simulate', '--secagg', '--strategy', 'krum'], /--secagg: .*Krum needs the individual updates/],
  [['simulate', '--secagg', '--strategy', 'normbound:5+fedavg'], /--secagg: .*norm bounding/],
  [['simulate', '--secagg', '--strategy', 'bucket:2+fedavg'], /--secagg: .*bucketing needs the individual updates/],
  [['simulate', '--secagg', '--dp', 'noise:1,clip:adaptive,delta:1e-5'], /--secagg: secure aggregation with adaptive clipping is not supported/],
  [['aggregator', '--broker', NOWHERE, '--secagg', '--strategy', 'median'], /^fedmq aggregator: --secagg: secure aggregation cannot run with --strategy median/],
  [['aggregator', '--broker', NOWHERE, '--secagg', '--mode', 'async'], /^fedmq aggregator: --secagg: async mode is not supported/],
];

describe('fedmq refuses --secagg where it cannot hold, in one line naming --secagg', () => {
  it.concurrent.each(CASES.map(([args, expected]) => ({ line: args.join(' '), args, expected })))('$line', async ({ args, expected }) => {
    const result = await run(args);

    expectRefusal(result, args, expected);
  });

  it('lists --secagg in --help of simulate and aggregator', async () => {
    for (const command of ['simulate', 'aggregator']) {
      const help = await run([command, '--help']);
      expect(help.stdout).toMatch(/--secagg\s+secure aggregation \(SecAgg\+/);
    }
  });
});

describe('fedmq simulate --secagg', () => {
  it('says in its start-up line that the quantization replaced the codec, and runs', async () => {
    const { code, stdout, stderr } = await run(['simulate', '--secagg', '--devices', '4', '--rounds', '1', '--model', '2nn', '--backend', 'wasm', '--codec', 'topk:0.01+int8+ef'], 180_000);

    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/codec=secagg int32 \(clip 1; replaces topk:0\.01\+int8\+ef, no error feedback\)/);
    expect(stdout).toMatch(/round 1/i);
  }, 200_000);
});
