import { execFileSync } from 'node:child_process';

/** Integration tests spawn `dist/cli/main.js`; build once so they run the code under test. */
export default function setup(): void {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
