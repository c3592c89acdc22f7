import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');

/** Another package, with fedmq in its node_modules as npm links a dependency (`file:`), built dist/ included. */
async function consumer(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fedmq-consumer-'));
  await mkdir(path.join(dir, 'node_modules'));
  await symlink(ROOT, path.join(dir, 'node_modules', 'fedmq'), 'dir');
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

describe("the package's entry point", () => {
  it("runs a two-device simulation from another package with import { Simulation } from 'fedmq'", async () => {
    // Prepare
    const dir = await consumer({
      'main.js': [
        "import { Simulation, parseCodec, builtinTask, taskLayout } from 'fedmq';",
        "const task = builtinTask('mlp');",
        "const report = await new Simulation({ task, devices: 2, rounds: 1, codec: 'int8', backend: 'wasm', workers: 0, seed: 1 }).run();",
        'console.log(JSON.stringify({ rounds: report.final.rounds, accepted: report.rounds[0].accepted, accuracy: report.final.accuracy, codec: parseCodec(report.config.codec).spec, params: taskLayout(task).paramCount }));',
      ].join('\n'),
    });
    // Execute
    const { stdout } = await run(process.execPath, ['main.js'], { cwd: dir, timeout: 120_000 });
    // Assert
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { rounds: number; accepted: number; accuracy: number; codec: string; params: number };
    expect(result).toMatchObject({ rounds: 1, accepted: 2, codec: 'int8', params: 101_770 });
    expect(result.accuracy).toBeGreaterThan(0.5);
  }, 150_000);

  it("gives TypeScript the library's types, and hides what it does not export", async () => {
    // Prepare: a consumer that uses the types, and a deep import the exports map must refuse.
    const dir = await consumer({
      'ok.ts': [
        "import { Simulation, TaskModel, datasetExamples, parseTask, taskInitialWeights, type DeviceExamples, type SimulationSettings, type RoundReport, type Task } from 'fedmq';",
        "const task: Task = parseTask({ name: 'motes', input: { features: ['a', 'b'] }, output: { kind: 'binary' }, model: { layers: [{ kind: 'dense', units: 1 }] } });",
        "const settings: SimulationSettings = { task, devices: 2, codec: 'topk:0.01+int8+ef', strategy: 'fedavgm' };",
        'const sim = new Simulation(settings);',
        "sim.on('roundClosed', (r: RoundReport) => r.accuracy.toFixed(2));",
        'export const devices: number = sim.options.devices;',
        'export const model: Promise<TaskModel> = TaskModel.create(task, taskInitialWeights(task, 1));',
        'export const examples = (x: Float32Array, y: Uint8Array): DeviceExamples => datasetExamples({ x, y, count: y.length, features: 2, numClasses: 2 }, [2]);',
      ].join('\n'),
      'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: [] }, files: ['ok.ts'] }),
    });
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    // Execute
    const typed = await run(process.execPath, [tsc, '-p', '.'], { cwd: dir }).then(() => 'ok', (e: { stdout: string }) => e.stdout);
    const deep = await run(process.execPath, ['--input-type=module', '-e', "await import('fedmq/dist/simulator/simulation.js')"], { cwd: dir }).then(() => 'loaded', (e: { stderr: string }) => e.stderr);
    // The retired model zoo is not part of the package any more.
    const exported = await run(process.execPath, ['--input-type=module', '-e', "console.log(Object.keys(await import('fedmq')).join(','))"], { cwd: dir }).then(({ stdout }) => stdout.trim().split(','));
    // Assert
    expect(typed).toBe('ok');
    expect(deep).toContain('ERR_PACKAGE_PATH_NOT_EXPORTED');
    expect(exported).toEqual(expect.arrayContaining(['builtinTask', 'parseTask', 'taskLayout', 'TaskModel', 'taskInitialWeights', 'loadTaskSource', 'deviceExamples', 'datasetExamples', 'loadDeviceData']));
    expect(exported.filter((name) => ['modelInfo', 'MODEL_NAMES', 'initialWeights', 'LocalModel', 'isModelName'].includes(name))).toEqual([]);
  }, 60_000);
});
