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

// protocol/ imports Node in one module only, hash.ts (node:crypto's SHA-256, 10-30x faster
// than pure JS on model-sized globals: bench/sha256.ts); the page gets hash.browser.ts, the
// same function on @noble/hashes. Nothing else is swapped: any other Node import fails the build.
const protocolDir = `${root}/protocol`;
const browserProtocol = {
  name: 'protocol-browser',
  setup(b) {
    b.onResolve({ filter: /^\.\/hash\.js$/ }, (args) =>
      resolve(args.resolveDir) === protocolDir ? { path: `${protocolDir}/hash.browser.ts` } : undefined,
    );
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
  plugins: [browserProtocol],
  logLevel: 'warning',
  metafile: true,
});
await copyFile(`${client}/index.html`, `${out}/index.html`);
await copyFile(`${client}/dashboard.css`, `${out}/dashboard.css`);
const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
console.log(`dashboard: ${out}/dashboard.js (${(bytes / 1024).toFixed(0)} KB)`);
