import { describe, expect, it } from 'vitest';
import { parseTask } from '../protocol/index.js';
import { inputFormat, parsePredictInputs, predictions } from './predictInputs.js';
import { isLoopback, parseServeAddress } from './predictServer.js';

const TABULAR = parseTask({
  name: 'tab', input: { shape: [2], features: ['temp', 'hum'] }, output: { kind: 'binary' },
  model: { layers: [{ kind: 'dense', units: 1, activation: 'sigmoid' }] },
});
const WINDOWS = parseTask({
  name: 'win', input: { shape: [3, 2], features: ['temp', 'hum'] }, output: { kind: 'classes', classes: 3 },
  model: { layers: [{ kind: 'flatten' }, { kind: 'dense', units: 3, activation: 'softmax' }] },
});
const UNNAMED = parseTask({
  name: 'raw', input: { shape: [2] }, output: { kind: 'regression', outputs: 1 }, model: { layers: [{ kind: 'dense', units: 1 }] },
});

describe('prediction inputs', () => {
  it('reads a CSV by the task\'s feature names, whatever the column order and extra columns', () => {
    const csv = 'time,hum,label,temp\n1,0.5,0,20\n2,"0.25",1,21.5\n\n';
    const read = parsePredictInputs(csv, TABULAR, 'csv');
    expect(read.count).toBe(2);
    expect(Array.from(read.x)).toEqual([20, 0.5, 21.5, 0.25]);
    expect(read.lines).toBeUndefined();
  });

  it('reads windows of consecutive readings for a [steps, features] task, one ending at each reading from the steps-th on', () => {
    const ndjson = [1, 2, 3, 4].map((i) => JSON.stringify({ temp: i, hum: i * 10, note: 'x' })).join('\n');
    const read = parsePredictInputs(ndjson, WINDOWS, 'ndjson');
    expect(read.count).toBe(2);
    expect(Array.from(read.x)).toEqual([1, 10, 2, 20, 3, 30, 2, 20, 3, 30, 4, 40]);
    expect(read.lines).toEqual([3, 4]);
  });

  it('reads a JSON array of flat arrays, and NDJSON lines of flat arrays', () => {
    expect(Array.from(parsePredictInputs('[[1,2],[3,4]]', TABULAR, 'json').x)).toEqual([1, 2, 3, 4]);
    expect(parsePredictInputs('[[1,2,3,4,5,6]]', WINDOWS, 'json').count).toBe(1);
    expect(Array.from(parsePredictInputs('[1,2]\n[3,4]\n', UNNAMED, 'ndjson').x)).toEqual([1, 2, 3, 4]);
    expect(Array.from(parsePredictInputs('a,b\n1,2\n', UNNAMED, 'csv').x)).toEqual([1, 2]);
  });

  it('refuses what does not fit, saying where', () => {
    const cases: [string, Parameters<typeof parsePredictInputs>[1], Parameters<typeof parsePredictInputs>[2], RegExp][] = [
      ['time,temp\n1,2\n', TABULAR, 'csv', /line 1: no column "hum" \(the task's features: temp, hum\)/],
      ['temp,hum\n1,2\n3,x\n', TABULAR, 'csv', /line 3, column "hum": "x" is not a finite number/],
      ['temp,hum\n1,2\n3\n', TABULAR, 'csv', /line 3, column "hum": missing/],
      ['temp,hum\n1,"2\n', TABULAR, 'csv', /line 2: a quoted field does not end on its line/],
      ['temp,hum\n1,1e400\n', TABULAR, 'csv', /line 2, column "hum"/],
      ['', TABULAR, 'csv', /empty input/],
      ['{"temp": 1, "hum": "NaN"}', TABULAR, 'ndjson', /line 1, field "hum": "NaN" is not a finite number/],
      ['{"temp": 1}', TABULAR, 'ndjson', /line 1, field "hum": missing/],
      ['{"temp": 1, "hum": 2}\n[1, 2]', TABULAR, 'ndjson', /arrays and objects mixed/],
      ['{"a": 1, "b": 2}', UNNAMED, 'ndjson', /names no features/],
      ['a,b,c\n1,2,3\n', UNNAMED, 'csv', /takes 2, the header has 3/],
      ['{"temp": 1, "hum": 2}\n{"temp": 1, "hum": 2}', WINDOWS, 'ndjson', /windows are 3 readings long; the input has 2/],
      ['[[1,2,3]]', TABULAR, 'json', /example 1: has 3 values; the task's input \[2\] takes 2/],
      ['[[1,null]]', TABULAR, 'json', /example 1: value 2 must be a finite number, got null/],
      ['{"inputs": []}', TABULAR, 'json', /an array of examples/],
      ['[[1,2', TABULAR, 'json', /not JSON/],
    ];
    for (const [text, task, format, message] of cases) expect(() => parsePredictInputs(text, task, format), text).toThrow(message);
  });

  it('tells the format by the file name, else by the first character', () => {
    expect(inputFormat('a.CSV', '[')).toBe('csv');
    expect(inputFormat('a.jsonl', '')).toBe('ndjson');
    expect(inputFormat('a.json', '{')).toBe('json');
    expect(inputFormat('-', '\uFEFF  [[1]]')).toBe('json');
    expect(inputFormat('-', '{"a":1}')).toBe('ndjson');
    expect(inputFormat('-', 'a,b')).toBe('csv');
  });

  it('labels outputs: the largest class; 1 at a probability of 0.5 after a sigmoid, at a logit of 0 without one', () => {
    expect(predictions(WINDOWS, Float32Array.of(0.1, 0.7, 0.2, 0.5, 0.2, 0.3), 2).map((p) => p.class)).toEqual([1, 0]);
    expect(predictions(TABULAR, Float32Array.of(0.49, 0.5), 2).map((p) => p.label)).toEqual([0, 1]);
    const logits = parseTask({ ...TABULAR, model: { layers: [{ kind: 'dense', units: 1 }] } });
    expect(predictions(logits, Float32Array.of(-0.1, 0.2), 2).map((p) => p.label)).toEqual([0, 1]);
    expect(predictions(UNNAMED, Float32Array.of(3.5), 1)).toEqual([{ output: [3.5] }]);
  });
});

describe('--serve address', () => {
  it('takes loopback addresses, and others only when told to serve publicly', () => {
    expect(parseServeAddress('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseServeAddress('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseServeAddress('localhost:9')).toEqual({ host: 'localhost', port: 9 });
    expect(parseServeAddress('8765')).toEqual({ host: '127.0.0.1', port: 8765 });
    expect(parseServeAddress('0.0.0.0:8080', true)).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(() => parseServeAddress('0.0.0.0:8080')).toThrow(/0.0.0.0 is not a loopback address.*--serve-public/);
    expect(() => parseServeAddress('192.168.1.4:80')).toThrow(/not a loopback address/);
    expect(() => parseServeAddress('[::]:80')).toThrow(/not a loopback address/);
    expect(() => parseServeAddress('hub.local:80', true)).toThrow(/not an IP address or localhost/);
    expect(() => parseServeAddress('127.0.0.1:70000')).toThrow(/port 70000/);
    expect(() => parseServeAddress('127.0.0.1')).toThrow(/must be HOST:PORT/);
    expect(isLoopback('127.1.2.3')).toBe(true);
    expect(isLoopback('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopback('::ffff:10.0.0.1')).toBe(false);
  });
});
