import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes `bytes` to `file` so that a crash leaves either the old file or the new one, never a
 * torn one: a temporary file beside it, flushed to disk, then renamed over it. Used by the device
 * agent (residuals) and the aggregator (checkpoints); not in protocol/, which must stay bundleable
 * for the browser dashboard.
 */
export async function writeFileAtomic(file: string, bytes: Uint8Array, mode = 0o600): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'w', mode);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw e;
  }
}
