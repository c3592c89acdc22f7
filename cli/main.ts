#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { printable } from '../monitor/index.js';
import { FedmqError, OptionsError } from '../protocol/index.js';
import { UsageError, helpText, parseFlags, type Command } from './args.js';
import { agentCommand } from './agent.js';
import { aggregatorCommand } from './aggregator.js';
import { brokerCommand } from './broker.js';
import { certsCommand } from './certs.js';
import { exportCommand } from './export.js';
import { keygenCommand } from './keygen.js';
import { monitorCommand } from './monitor.js';
import { passwdCommand } from './passwd.js';
import { predictCommand } from './predict.js';
import { simulateCommand } from './simulate.js';

const commands: Command[] = [simulateCommand, brokerCommand, aggregatorCommand, agentCommand, monitorCommand, passwdCommand, certsCommand, keygenCommand, predictCommand, exportCommand];

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function usage(): string {
  return [
    'fedmq: federated learning for fleets of small devices over MQTT',
    '',
    'Usage: fedmq <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`),
    '',
    "Run 'fedmq <command> --help' for a command's options.",
    '',
  ].join('\n');
}

/** Options whose flag is not their name in kebab case. */
const OPTION_FLAGS: Record<string, string> = { roundTimeoutMs: 'round-timeout', waitForDevicesMs: 'wait-devices', brokerUrl: 'broker' };

/** A library option's error as the command line says it: by its flag (`--round-timeout (roundTimeoutMs): ...`). */
function optionMessage(e: OptionsError, command: Command): string {
  const renamed = OPTION_FLAGS[e.option];
  const flag = renamed ?? e.option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  if (!(flag in command.flags)) return e.message;
  const why = e.message.startsWith(`${e.option}: `) ? e.message.slice(e.option.length + 2) : e.message;
  // A renamed option keeps its name: its value is in the library's unit (roundTimeoutMs: ms).
  return `--${flag}${renamed === undefined ? '' : ` (${e.option})`}: ${why}`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const command = commands.find((c) => c.name === rest[0]);
    process.stdout.write(command ? helpText(command) : usage());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    console.log(version());
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`fedmq: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    const flags = parseFlags(rest, command.flags);
    if (flags.help === true) {
      process.stdout.write(helpText(command));
      return 0;
    }
    return await command.run(flags);
  } catch (e) {
    if (e instanceof UsageError || e instanceof OptionsError) {
      const message = e instanceof OptionsError ? optionMessage(e, command) : e.message;
      process.stderr.write(`fedmq ${command.name}: ${message}\nRun 'fedmq ${command.name} --help' for options.\n`);
      return 2;
    }
    // Our errors and system errors (ECONNREFUSED...) explain themselves; anything else is a bug: show where.
    const err = e as Error & { code?: unknown };
    const known = err instanceof FedmqError || err.code !== undefined;
    // An error may quote what a remote client sent: printed escaped.
    process.stderr.write(`fedmq ${command.name}: ${(known ? err.message : (err.stack ?? String(err))).split('\n').map(printable).join('\n')}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`fedmq: ${String(e)}\n`);
    process.exit(1);
  },
);
