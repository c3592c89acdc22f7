// Bundles the monitor's web dashboard (monitor/web/client/) into dist/monitor/web/static/:
// mqtt.js, cbor-x, Chart.js and fedmq's own protocol and monitor code in one browser script,
// so the page needs no CDN and no internet. Run by `npm run build` after tsc.
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const client = `${root}/monitor/web/client`;
const out = `${root}/dist/monitor/web/static`;

// protocol/ imports two Node modules for code the page never runs: createHash (for hashing
// globals it does not check) and EventEmitter (for emitters it does not create).
const NODE_STUBS = {
  'node:crypto': "export function createHash() { throw new Error('node:crypto is not available in the browser'); }",
  'node:events': 'export class EventEmitter { on() { return this; } once() { return this; } off() { return this; } emit() { return false; } }',
};
const nodeStubs = {
  name: 'node-stubs',
  setup(b) {
    b.onResolve({ filter: /^node:(crypto|events)$/ }, (args) => ({ path: args.path, namespace: 'node-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'node-stub' }, (args) => ({ contents: NODE_STUBS[args.path], loader: 'js' }));
  },
};

await mkdir(out, { recursive: true });
const result = await build({
  entryPoints: [`${client}/main.ts`],
  outfile: `${out}/dashboard.js`,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  legalComments: 'eof',
  define: { 'process.env.NODE_ENV': '"production"' },
  plugins: [nodeStubs],
  logLevel: 'warning',
  metafile: true,
});
await copyFile(`${client}/index.html`, `${out}/index.html`);
await copyFile(`${client}/dashboard.css`, `${out}/dashboard.css`);
const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
console.log(`dashboard: ${out}/dashboard.js (${(bytes / 1024).toFixed(0)} KB)`);
