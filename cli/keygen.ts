import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MessageSigner, generateSigningKey, parsePublicKey, trustKey } from '../privacy/index.js';
import type { FleetTrust } from '../protocol/index.js';
import { UsageError, str, type Command } from './args.js';

/** File names in `--out DIR`. */
export const SIGNING_KEY_FILE = 'aggregator.key';
export const PUBLIC_KEY_FILE = 'aggregator.pub';

export const keygenCommand: Command = {
  name: 'keygen',
  summary: "make the aggregator's Ed25519 key pair: it signs task, global and round messages, and agents started with --trust verify them",
  examples: [
    'npx fedmq keygen --out ./keys',
    'npx fedmq aggregator --broker mqtt://hub.local:1883 --sign-key ./keys/aggregator.key',
    'npx fedmq agent --broker mqtt://hub.local:1883 --id pi-01 --data mnist:iid:1/3 --trust ./keys/aggregator.pub',
  ],
  flags: {
    out: { type: 'string', placeholder: 'DIR', description: `folder for ${SIGNING_KEY_FILE} (private, PKCS#8 PEM, mode 600) and ${PUBLIC_KEY_FILE} (public, SPKI PEM: copy it to every device) (required)` },
    force: { type: 'boolean', description: 'replace a key pair that exists (devices that trust the old key will refuse the new one)' },
  },

  async run(flags) {
    const dir = str(flags, 'out');
    if (dir === undefined) throw new UsageError('--out DIR is required: the folder to write the key pair in');
    if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`--out ${dir} is a file, not a folder`);
    const keyFile = path.join(dir, SIGNING_KEY_FILE);
    const pubFile = path.join(dir, PUBLIC_KEY_FILE);
    const existing = [keyFile, pubFile].filter((f) => existsSync(f));
    if (existing.length > 0 && flags.force !== true) {
      throw new UsageError(`${existing.join(' and ')} exist${existing.length === 1 ? 's' : ''}; --force replaces the key pair (devices that trust the old key then refuse every message)`);
    }
    const { privatePem, publicPem, keyId } = generateSigningKey();
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // A replaced file is removed first: writeFile's mode applies only to a file it creates.
    for (const f of existing) await rm(f, { force: true });
    await writeFile(keyFile, privatePem, { mode: 0o600, flag: 'wx' });
    await writeFile(pubFile, publicPem, { mode: 0o644, flag: 'wx' });
    console.log(`wrote ${keyFile} (0600) and ${pubFile}, key id ${keyId}`);
    console.log(`aggregator: fedmq aggregator --sign-key ${keyFile}`);
    console.log(`devices:    fedmq agent --trust ${pubFile} (copy ${PUBLIC_KEY_FILE} to each; keep ${SIGNING_KEY_FILE} on the aggregator only)`);
    return 0;
  },
};

/** `--sign-key FILE`: the aggregator's private key, as `fedmq keygen` wrote it; a one-line `UsageError` otherwise. */
export async function readSigningKey(file: string): Promise<MessageSigner> {
  try {
    return MessageSigner.fromPem(await readFile(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`--sign-key ${file}: ${keyFileProblem(error)}`);
  }
}

/** `--trust FILE`: the aggregator's public key (SPKI PEM, or 32 raw bytes in base64 or hex); a one-line `UsageError` otherwise. */
export async function readTrustedKey(file: string, fleet: string): Promise<FleetTrust> {
  try {
    return trustKey(fleet, parsePublicKey(await readFile(file, 'utf8')));
  } catch (error) {
    throw new UsageError(`--trust ${file}: ${keyFileProblem(error)}`);
  }
}

function keyFileProblem(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return 'no such file (fedmq keygen --out DIR writes aggregator.key and aggregator.pub)';
  if (e.code === 'EACCES') return 'permission denied';
  if (e.code === 'EISDIR') return 'a folder, not a key file';
  return e.message;
}
