import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI } from './processes.js';

const AGENT = ['agent', '--broker', 'mqtt://127.0.0.1:1', '--id', 'pi-01', '--data', 'mnist:iid:0/3'];

function fedmq(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 20_000 }, (error, _stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stderr }));
  });
}

describe('fedmq agent --train-when', () => {
  it.each([
    [['--train-when', 'sunny'], /^fedmq agent: --train-when: unknown rule "sunny"; comma-separated rules, all must hold: charging/],
    [['--train-when', 'cpu-temp<hot'], /^fedmq agent: --train-when: "cpu-temp<hot": the cpu-temp must be a number in \[-100, 250\], got "hot"$/],
    [['--train-when', 'charging', '--check-every', '0'], /^fedmq agent: --check-every must be a number of seconds in \[1, 86400\], got 0$/],
    [['--check-every', '5'], /^fedmq agent: --check-every goes with --train-when$/],
  ])('refuses %j in one line, exit code 2, before it reaches the broker', async (extra, message) => {
    const { code, stderr } = await fedmq([...AGENT, ...extra]);
    expect(code).toBe(2);
    expect(stderr.split('\n')[0]).toMatch(message);
  });

  it('says in its help what idle means and that a loopback address is all --serve takes by default', async () => {
    const help = await new Promise<string>((resolve) => execFile(process.execPath, [CLI, 'agent', '--help'], (_e, stdout) => resolve(stdout)));
    expect(help).toMatch(/idle \(1-min load average per CPU < 0\.5\)/);
    expect(help).toMatch(/loopback addresses only .* unless --serve-public/);
  });
});
