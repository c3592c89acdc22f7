import { describe, expect, it } from 'vitest';
import { MemoryModelStore, PredictServer, openPredictor, type SavedModel } from '../device-agent/index.js';
import { TaskModel, taskInitialWeights } from '../learning/index.js';
import { Rng, build, builtinTask, encodeGlobal, parseCodec } from '../protocol/index.js';
import { brokerFixture, mnistSlice } from './helpers.js';
import { RawAggregator, roundFor, startAgent, waitFor } from './agent-support.js';

const DEVICE = 'dev-serve';

async function request(base: string, path: string, init: { method?: string; body?: string; type?: string } = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    ...(init.body !== undefined && { body: init.body, headers: { 'content-type': init.type ?? 'application/json' } }),
  });
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('fedmq agent --serve: predictions over local HTTP with the global the agent keeps', () => {
  const fixture = brokerFixture();

  /** A broker, a raw aggregator, a real agent on 100 MNIST examples with a model store, and its prediction server on 127.0.0.1. */
  async function setUp(): Promise<{ base: string; aggregator: RawAggregator; server: PredictServer; saved: SavedModel[]; inputs: number[][] }> {
    const broker = await fixture.start();
    const aggregator = await RawAggregator.connect(broker.url);
    fixture.cleanup(() => aggregator.end());
    const train = await mnistSlice(100, 'train');
    const { agent, client, events } = await startAgent(broker.url, DEVICE, train, { models: new MemoryModelStore() });
    const server = new PredictServer({ host: '127.0.0.1', port: 0, open: (m) => openPredictor(m.task, m.weights), maxExamples: 8, maxBodyBytes: 64 * 1024 });
    const saved: SavedModel[] = [];
    agent.on('modelSaved', (m) => {
      saved.push(m);
      void server.use(m);
    });
    const { port } = await server.listen();
    fixture.cleanup(() => client.endAsync(), () => agent.stop(), () => server.close(), async () => expect(events.warning).toEqual([]));
    const test = await mnistSlice(3);
    const inputs = Array.from({ length: 3 }, (_, i) => Array.from(test.x.subarray(i * 784, (i + 1) * 784)));
    return { base: `http://127.0.0.1:${port}`, aggregator, server, saved, inputs };
  }

  it('answers 503 until the agent holds a model, then the outputs of the global it trained from, and of each newer global', async () => {
    // Prepare
    const { base, aggregator, server, saved, inputs } = await setUp();
    const before = [await request(base, '/health'), await request(base, '/predict', { body: JSON.stringify({ inputs }) })];
    // Execute: a real round (task, global v0, round), then global v1.
    await aggregator.startRound(roundFor([DEVICE], 1, Date.now() + 30_000));
    await aggregator.updateFor(DEVICE, 1, 20_000);
    await waitFor('the model served', () => server.model?.version === 0, 10_000);
    const health = await request(base, '/health');
    const first = await request(base, '/predict', { body: JSON.stringify({ inputs }) });
    const v1 = taskInitialWeights(builtinTask('mlp'), 1);
    const encoded = encodeGlobal(v1, parseCodec('f32'), new Rng(0));
    await aggregator.publish('global', build.global({ version: 1, round: 1, codec: 'f32', weights: encoded.bytes, sha256: encoded.sha256 }));
    await waitFor('global v1 served', () => server.model?.version === 1, 10_000);
    const second = await request(base, '/predict', { body: JSON.stringify({ inputs }) });
    // Assert
    expect(before.map((r) => r.status)).toEqual([503, 503]);
    expect(before[1]!.json.error).toMatch(/no model yet/);
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({ ready: true, version: 0, task: 'mlp', runtime: expect.stringMatching(/^(onnxruntime-node|onnxruntime-web|tfjs)$/) });
    expect(saved.map((m) => m.version)).toEqual([0, 1]);
    for (const [answer, weights] of [[first, saved[0]!.weights], [second, v1]] as const) {
      expect(answer.status).toBe(200);
      const outputs = answer.json.outputs as number[][];
      expect(outputs).toHaveLength(3);
      // The same as tfjs's TaskModel with those weights, example by example, within 1e-5.
      const model = await TaskModel.create(builtinTask('mlp'), weights);
      const expected = model.predict(Float32Array.from(inputs.flat()), 3);
      model.dispose();
      for (let i = 0; i < 3; i++) {
        expect(outputs[i]).toHaveLength(10);
        outputs[i]!.forEach((v, k) => expect(v).toBeCloseTo(expected[i * 10 + k]!, 5));
        expect((answer.json.classes as number[])[i]).toBe(outputs[i]!.indexOf(Math.max(...outputs[i]!)));
      }
      expect(answer.json.runtime).toBe(health.json.runtime);
    }
    expect(first.json.version).toBe(0);
    expect(second.json.version).toBe(1);
  });

  it('refuses bad requests with a 4xx and a JSON error, and goes on answering good ones', async () => {
    // Prepare
    const { base, aggregator, server, inputs } = await setUp();
    await aggregator.startRound(roundFor([DEVICE], 1, Date.now() + 30_000));
    await waitFor('the model served', () => server.model !== null, 20_000);
    const one = inputs[0]!;
    const cases: [string, { method?: string; path?: string; body?: string; type?: string }, number, RegExp][] = [
      ['GET /predict', { method: 'GET' }, 405, /use POST/],
      ['an unknown path', { path: '/admin', body: '{}' }, 404, /POST \/predict or GET \/health/],
      ['not JSON', { body: '{"inputs": [[1,2' }, 400, /not JSON/],
      ['no inputs', { body: JSON.stringify({ input: [one] }) }, 400, /must be \{"inputs"/],
      ['inputs not an array', { body: JSON.stringify({ inputs: 5 }) }, 400, /must be \{"inputs"/],
      ['an example not an array', { body: JSON.stringify({ inputs: [one, 'x'] }) }, 400, /inputs\[1\]: must be a flat array of 784 numbers/],
      ['a short example', { body: JSON.stringify({ inputs: [one.slice(1)] }) }, 400, /inputs\[0\]: has 783 values; the task's input \[28, 28, 1\] takes 784/],
      ['a nested example', { body: JSON.stringify({ inputs: [[one]] }) }, 400, /inputs\[0\]: has 1 values/],
      ['a null value', { body: JSON.stringify({ inputs: [[null, ...one.slice(1)]] }) }, 400, /inputs\[0\]: value 1 must be a finite number, got null/],
      ['a string value', { body: JSON.stringify({ inputs: [[...one.slice(1), '1']] }) }, 400, /value 784 must be a finite number/],
      ['beyond float32', { body: JSON.stringify({ inputs: [[1e39, ...one.slice(1)]] }) }, 400, /beyond float32/],
      ['too many examples', { body: JSON.stringify({ inputs: Array.from({ length: 9 }, () => [0]) }) }, 413, /9 examples; at most 8/],
      ['too large a body', { body: JSON.stringify({ inputs: [Array.from({ length: 20_000 }, () => 0.123)] }) }, 413, /at most 65536|over 65536/],
      ['text/plain', { body: JSON.stringify({ inputs: [one] }), type: 'text/plain' }, 415, /application\/json/],
    ];
    // Execute
    const answers: Awaited<ReturnType<typeof request>>[] = [];
    for (const [, c] of cases) answers.push(await request(base, c.path ?? '/predict', c));
    const good = await request(base, '/predict', { body: JSON.stringify({ inputs: [one] }) });
    const none = await request(base, '/predict', { body: JSON.stringify({ inputs: [] }) });
    // Assert
    cases.forEach(([what, , status, message], i) => {
      expect(answers[i]!.status, what).toBe(status);
      expect(answers[i]!.json.error, what).toMatch(message);
    });
    expect(good.status).toBe(200);
    expect((good.json.outputs as number[][])[0]).toHaveLength(10);
    expect(none).toEqual({ status: 200, json: { outputs: [], classes: [], version: 0, runtime: expect.any(String) } });
  });
});
