import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  PREDICTOR_RUNTIMES, PredictInputError, describeRuntime, expandHome, inputFormat, loadSavedModel, modelFile, openPredictor, parsePredictInputs, parsePredictorRuntime, predictions,
  type InputFormat,
} from '../device-agent/index.js';
import { UsageError, str, type Command } from './args.js';

/** Examples handed to the predictor at a time: memory stays bounded on a large input file. */
const BATCH = 256;
const FORMATS: readonly InputFormat[] = ['csv', 'ndjson', 'json'];

export const predictCommand: Command = {
  name: 'predict',
  summary: "use the model the device learned: predict on inputs from a file with the global its agent kept",
  examples: [
    'npx fedmq predict --input readings.csv',
    'npx fedmq predict --input examples.json --state-dir /var/lib/fedmq --runtime tfjs',
    'tail -n 30 readings.ndjson | npx fedmq predict --input - --format ndjson',
  ],
  flags: {
    input: { type: 'string', placeholder: 'FILE', description: "inputs: a CSV with a header (the task's features by name, one reading a row), NDJSON objects likewise, or a JSON array of flat arrays; - reads stdin (required)" },
    format: { type: 'string', placeholder: 'FORMAT', description: 'csv | ndjson | json', default: 'by the file name, else by its first character' },
    'state-dir': { type: 'string', placeholder: 'DIR', description: "the agent's state directory, where it keeps the newest global (model.safetensors)", default: '~/.fedmq' },
    runtime: { type: 'string', placeholder: 'NAME', description: PREDICTOR_RUNTIMES.join(' | '), default: 'auto' },
  },

  async run(flags) {
    const input = str(flags, 'input');
    if (input === undefined) throw new UsageError('--input is required');
    const runtime = parsePredictorRuntime(str(flags, 'runtime') ?? 'auto');
    const format = str(flags, 'format');
    if (format !== undefined && !(FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be ${FORMATS.join(', ')}`);
    const stateDir = expandHome(str(flags, 'state-dir') ?? path.join(os.homedir(), '.fedmq'));

    const model = await loadSavedModel(stateDir);
    if (model === null) {
      process.stderr.write(`fedmq predict: no model in ${modelFile(stateDir)} yet: an agent with --state-dir ${stateDir} keeps the global once it has received one with its task\n`);
      return 1;
    }
    let text: string;
    try {
      text = input === '-' ? await readStdin() : await readFile(input, 'utf8');
    } catch (e) {
      throw new UsageError(`--input ${input}: ${(e as Error).message}`);
    }
    let examples;
    try {
      examples = parsePredictInputs(text, model.task, (format as InputFormat | undefined) ?? inputFormat(input, text));
    } catch (e) {
      if (e instanceof PredictInputError) throw new PredictInputError(`${input === '-' ? 'stdin' : input}: ${e.message}`, { cause: e });
      throw e;
    }
    const predictor = await openPredictor(model.task, model.weights, { runtime });
    process.stderr.write(`fedmq predict: global v${model.version} (round ${model.round}) of task "${model.task.name}", ${examples.count} examples, runtime ${describeRuntime(predictor)}\n`);
    try {
      const n = examples.x.length / Math.max(1, examples.count);
      for (let start = 0; start < examples.count; start += BATCH) {
        const count = Math.min(BATCH, examples.count - start);
        const outputs = await predictor.predict(examples.x.subarray(start * n, (start + count) * n), count);
        const lines = predictions(model.task, outputs, count).map((p, i) => {
          const line = examples.lines?.[start + i];
          return JSON.stringify(line === undefined ? p : { ...p, line });
        });
        if (!process.stdout.write(`${lines.join('\n')}\n`)) await new Promise((resolve) => process.stdout.once('drain', resolve));
      }
    } finally {
      await predictor.dispose();
    }
    return 0;
  },
};

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
