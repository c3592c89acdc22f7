// @ts-check
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'dist-bundle/**', 'node_modules/**', 'coverage/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // protocol/ also runs in the browser (the dashboard bundle): no Node modules, except
    // hash.ts, which the bundle swaps for hash.browser.ts (scripts/build-dashboard.js).
    files: ['protocol/**/*.ts'],
    ignores: ['protocol/**/*.test.ts', 'protocol/hash.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: builtinModules.map((name) => ({ name, message: 'protocol/ must run in a browser: no Node modules' })),
        patterns: [{ group: ['node:*'], message: 'protocol/ must run in a browser: no Node modules' }],
      }],
    },
  },
  {
    // Options are resolved once, at start-up, into objects (a Codec, a Strategy, a partition,
    // profiles, an attack) that the core passes on; a spec string is parsed only by the
    // options parsers (and protocol/, which decodes what arrives). A call anywhere else parses
    // again what was already parsed.
    files: ['**/*.ts'],
    ignores: [
      '**/*.test.ts', 'test/**', 'bench/**', 'protocol/**',
      'aggregator/options.ts', 'aggregator/strategies/registry.ts',
      'simulator/options.ts', 'simulator/profiles.ts', 'simulator/attacks.ts',
      'datasets/partitionSpec.ts', 'datasets/dataSource.ts',
    ],
    rules: {
      'no-restricted-syntax': ['error', {
        selector: 'CallExpression[callee.name=/^parse(Codec|Downlink|Strategy|Partition|Profiles|Attack)$/]',
        message: 'resolve option specs once, in the options parsers (aggregator/options.ts, simulator/options.ts), and pass the object on',
      }],
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
