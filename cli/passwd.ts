import { appendFile, readFile } from 'node:fs/promises';
import { ROLES, hashPassword, parseCredentials, type Role } from '../broker/index.js';
import { isValidId } from '../protocol/index.js';
import { UsageError, str, type Command } from './args.js';

/** The password: FEDMQ_PASSWORD, else standard input up to its first line break. */
async function readPassword(): Promise<string> {
  const env = process.env.FEDMQ_PASSWORD;
  if (env) return env;
  if (process.stdin.isTTY) throw new UsageError('set FEDMQ_PASSWORD or pipe the password in, e.g. printf %s "$PW" | fedmq passwd ...');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const password = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  if (password === '') throw new UsageError('empty password on standard input');
  return password;
}

async function existing(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

export const passwdCommand: Command = {
  name: 'passwd',
  summary: 'add a login (device, aggregator or monitor) to a credentials file for `fedmq broker --auth`',
  examples: [
    'FEDMQ_PASSWORD=... npx fedmq passwd --file /etc/fedmq/credentials --role device --name pi-01',
    'printf %s "$PW" | npx fedmq passwd --role aggregator --name hub',
  ],
  flags: {
    role: { type: 'string', placeholder: 'ROLE', description: `${ROLES.join(' | ')} (required)` },
    name: { type: 'string', placeholder: 'NAME', description: "the login's username; a device's is its --id (required)" },
    file: { type: 'string', placeholder: 'FILE', description: 'append the line to FILE (created mode 600); else print it' },
  },

  async run(flags) {
    const role = str(flags, 'role');
    const name = str(flags, 'name');
    const file = str(flags, 'file');
    if (role === undefined || name === undefined) throw new UsageError('--role and --name are required');
    if (!ROLES.includes(role as Role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}, got "${role}"`);
    if (!isValidId(name)) throw new UsageError(`--name "${name}": 1-64 letters, digits, '_', '.', ':' or '-'`);
    const before = file === undefined ? '' : await existing(file);
    // The file must stay readable by the broker: refuse to add to a broken one, or a name twice.
    if (parseCredentials(before, file).has(name)) throw new UsageError(`${name} is already in ${file}; remove its line to change the password`);
    const line = `${role} ${name} ${await hashPassword(await readPassword())}`;
    if (file === undefined) {
      console.log(line);
    } else {
      await appendFile(file, `${before === '' || before.endsWith('\n') ? '' : '\n'}${line}\n`, { mode: 0o600 });
      console.log(`added ${role} ${name} to ${file}`);
    }
    return 0;
  },
};
