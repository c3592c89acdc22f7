import { execFileSync } from 'node:child_process';

/**
 * Integration tests spawn `dist/cli/main.js`; build once so they run the code under test.
 * A failed build is reported but does not stop unit tests (`npm run typecheck` and the
 * build in `.ci/run` fail loudly on their own).
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
    process.stderr.write(`warning: build for integration tests failed:\n${out.slice(0, 4000)}\n`);
  }
}
