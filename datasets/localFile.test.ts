import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataFileError, loadLocalFile } from './index.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fedmq-local-'));
  await mkdir(join(dir, 'sub.csv'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function failure(path: string): Promise<DataFileError> {
  const error: unknown = await loadLocalFile(path).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DataFileError);
  return error as DataFileError;
}

describe('loadLocalFile (CSV)', () => {
  it('reads label,f0,f1,... rows after a header and scales 0..255 values by 1/255', async () => {
    // Prepare
    const path = await file('pixels.csv', 'label,p0,p1,p2\n3,0,255,51\n\n11,102,0,255\n');

    // Execute
    const ds = await loadLocalFile(path);

    // Assert
    expect(ds).toMatchObject({ count: 2, features: 3, numClasses: 12 });
    expect(Array.from(ds.y)).toEqual([3, 11]);
    expect(Array.from(ds.x)).toEqual(Array.from(Float32Array.from([0, 1, 0.2, 0.4, 0, 1])));
  });

  it('keeps values already in [0, 1] and accepts CRLF lines without a header', async () => {
    // Prepare
    const path = await file('unit.csv', '1,0.25,0.5\r\n0,1,0\r\n');

    // Execute
    const ds = await loadLocalFile(path);

    // Assert
    expect(ds).toMatchObject({ count: 2, features: 2, numClasses: 10 });
    expect(Array.from(ds.x)).toEqual([0.25, 0.5, 1, 0]);
  });

  it('grows past its first buffer for files of many rows', async () => {
    // Prepare
    const rows = Array.from({ length: 3000 }, (_, i) => `${i % 10},${i % 256},0`).join('\n');
    const path = await file('many.csv', rows);

    // Execute
    const ds = await loadLocalFile(path);

    // Assert
    expect(ds.count).toBe(3000);
    expect(ds.y[2999]).toBe(9);
    expect(ds.x[2 * 2999]).toBeCloseTo((2999 % 256) / 255, 6);
  });

  it.each([
    ['ragged.csv', '1,0,0\n2,0\n', 2, /1 feature values, but line 1 has 2/],
    ['word.csv', 'label,a\n1,0.5\n2,abc\n', 3, /feature 1 is "abc", not a finite number/],
    ['empty-field.csv', '1,0.5,\n', 1, /feature 2 is "", not a finite number/],
    ['fraction-label.csv', '1,0\n2.5,0\n', 2, /label must be an integer in 0\.\.255, got "2\.5"/],
    ['negative-label.csv', '-1,0\n', 1, /label must be an integer/],
    ['bad-label.csv', '1,0\nx,0\n', 2, /label must be an integer in 0\.\.255, got "x"/],
    ['huge.csv', '1,0\n2,300\n', 2, /feature 1 = 300 is outside/],
    ['negative.csv', '1,-0.5\n', 1, /feature 1 = -0.5 is outside/],
    ['label-only.csv', '1\n', 1, /at least one feature/],
  ])('rejects %s at line %i', async (name, text, line, message) => {
    // Prepare
    const path = await file(name, text);

    // Execute
    const error = await failure(path);

    // Assert
    expect(error.path).toBe(path);
    expect(error.line).toBe(line);
    expect(error.message).toMatch(message);
    expect(error.message).toContain(`${path}:${line}: `);
  });
});

describe('loadLocalFile (NDJSON)', () => {
  it('reads {"label", "x"} and {"y", "x"} lines', async () => {
    // Prepare
    const path = await file('rows.ndjson', '{"label": 3, "x": [0, 0.5]}\n{"y": 7, "x": [1, 0.25]}\n');

    // Execute
    const ds = await loadLocalFile(path);

    // Assert
    expect(ds).toMatchObject({ count: 2, features: 2, numClasses: 10 });
    expect(Array.from(ds.y)).toEqual([3, 7]);
    expect(Array.from(ds.x)).toEqual([0, 0.5, 1, 0.25]);
  });

  it('accepts the .jsonl extension and 0..255 values', async () => {
    // Prepare
    const path = await file('rows.jsonl', '{"label": 0, "x": [255, 0]}\n');

    // Execute
    const ds = await loadLocalFile(path);

    // Assert
    expect(Array.from(ds.x)).toEqual([1, 0]);
  });

  it.each([
    ['bad-json.ndjson', '{"label": 1, "x": [0]}\n{"label": 2, "x": [0\n', 2, /invalid JSON/],
    ['array.ndjson', '[1, 0]\n', 1, /expected an object/],
    ['no-label.ndjson', '{"x": [0]}\n', 1, /missing "label" \(or "y"\)/],
    ['no-x.ndjson', '{"label": 1}\n', 1, /"x" must be an array of numbers/],
    ['string-value.ndjson', '{"label": 1, "x": [0]}\n\n{"label": 1, "x": ["0"]}\n', 3, /feature 1 is "0", not a finite number/],
    ['ragged.ndjson', '{"label": 1, "x": [0, 1]}\n{"label": 1, "x": [0]}\n', 2, /line 1 has 2/],
    ['string-label.ndjson', '{"label": "1", "x": [0]}\n', 1, /got "1"/],
  ])('rejects %s at line %i', async (name, text, line, message) => {
    // Prepare
    const path = await file(name, text);

    // Execute
    const error = await failure(path);

    // Assert
    expect(error.line).toBe(line);
    expect(error.message).toMatch(message);
  });
});

describe('loadLocalFile (whole-file problems)', () => {
  it.each([
    ['empty.csv', ''],
    ['blank.ndjson', '\n\n'],
    ['header-only.csv', 'label,a,b\n'],
  ])('rejects %s as having no examples', async (name, text) => {
    // Prepare
    const path = await file(name, text);

    // Execute
    const error = await failure(path);

    // Assert
    expect(error.line).toBeNull();
    expect(error.message).toMatch(/no examples/);
  });

  it('names a file that does not exist', async () => {
    // Execute
    const error = await failure(join(dir, 'missing.csv'));

    // Assert
    expect(error.message).toMatch(/missing\.csv: cannot open/);
  });

  it('names a directory given as a file', async () => {
    // Execute
    const error = await failure(join(dir, 'sub.csv'));

    // Assert
    expect(error.message).toMatch(/sub\.csv: cannot (open|read)/);
  });

  it('decides the format from the first line when the extension is neither', async () => {
    // Prepare
    const csv = await file('data.txt', '4,0.5\n');
    const ndjson = await file('data.log', '{"label": 4, "x": [0.5]}\n');

    // Execute
    const [a, b] = await Promise.all([loadLocalFile(csv), loadLocalFile(ndjson)]);

    // Assert
    expect(a).toEqual(b);
  });
});
