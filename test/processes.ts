import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, expect } from 'vitest';

export const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

/** A `fedmq` subcommand in its own process, with its output collected line by line. */
export class FedmqProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  private readonly exited: Promise<number | null>;

  /** `env` adds to this process's environment (e.g. FEDMQ_PASSWORD). */
  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [CLI, ...args], { stdio: 'pipe', env: { ...process.env, ...env } });
    let buffered = '';
    const collect = (chunk: Buffer): void => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      this.lines.push(...parts);
    };
    this.child.stdout.on('data', collect);
    this.child.stderr.on('data', collect);
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  /** Resolves with the first line matching `pattern`, or rejects after `timeoutMs`. */
  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const line of this.lines) {
        const m = line.match(pattern);
        if (m) return m;
      }
      if (this.child.exitCode !== null) throw new Error(`process exited (${this.child.exitCode}) before ${pattern}:\n${this.lines.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${this.lines.join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  exit(): Promise<number | null> {
    return this.exited;
  }

  /** SIGTERM, then the exit code (SIGKILL if it does not exit in time). */
  async stop(timeoutMs = 10_000): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

/**
 * Starts `fedmq` subcommands for the test file or `describe` block it is called in, and stops
 * every one after that block's tests (SIGTERM, then SIGKILL).
 */
export function processStarter(): (args: string[], env?: Record<string, string>) => FedmqProcess {
  const started: FedmqProcess[] = [];
  afterAll(async () => {
    await Promise.all(started.map((p) => p.stop()));
  });
  return (args, env = {}) => {
    const p = new FedmqProcess(args, env);
    started.push(p);
    return p;
  };
}

/** A `fedmq` command run to its end (SIGKILL after `timeoutMs`): exit code (null if killed) and output. */
export function runCli(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * A command refused at start as fedmq refuses a bad flag: exit 2, nothing on stdout (nothing
 * started), and two lines on stderr: `fedmq <command>: ...` matching `expected`, then the help hint.
 */
export function expectRefusal({ code, stdout, stderr }: { code: number | null; stdout: string; stderr: string }, args: string[], expected: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  expect({ code, stdout, lines: lines.length }, stderr).toEqual({ code: 2, stdout: '', lines: 2 });
  expect(lines[0]).toMatch(new RegExp(`^fedmq ${args[0]}: `));
  expect(lines[0]).toMatch(expected);
  expect(lines[1]).toBe(`Run 'fedmq ${args[0]} --help' for options.`);
}
