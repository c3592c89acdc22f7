import { execFileSync } from 'node:child_process';

/**
 * Integration tests spawn `dist/cli/main.js` and import the package's `dist/`; build once so
 * they run the code under test. A failed build stops the run: carrying on would test a stale
 * `dist/` and report its results as this tree's.
 */
export default function setup(): void {
  if (process.env.FEDMQ_SKIP_BUILD === '1') return;
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'pipe' });
    // The monitor's dashboard page, bundled for the browser (scripts/build-dashboard.js).
    execFileSync(process.execPath, ['scripts/build-dashboard.js'], { stdio: 'pipe' });
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: Buffer; stderr?: Buffer };
    const out = `${stdout?.toString() ?? ''}${stderr?.toString() ?? ''}` || String(e);
    throw new Error(`the build for the integration tests failed, so no test ran against a stale dist/:\n${out.slice(0, 4000)}`);
  }
}
