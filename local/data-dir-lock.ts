import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * One server per data dir. dynalite's on-disk store (LevelDB) takes its own lock, and a second process that opens a
 * data dir in use fails later with "Database is closed", which names neither the dir nor the process holding it.
 * The first server writes `server.lock` in the dir (its pid, then its API URL once it listens); a second one that
 * finds the lock of a live process stops at once with an error that names both. A lock left by a process that is
 * gone (kill -9) is taken over.
 */
export interface DataDirLock {
  /** Records where the server holding the dir listens (shown to a second server). */
  announce(url: string): void;
  /** Removes the lock (only while it is still this process's). */
  release(): void;
}

export const LOCK_FILE = 'server.lock';

interface LockInfo {
  pid: number;
  url?: string;
  since: string;
}

export function lockDataDir(dir: string): DataDirLock {
  const file = join(dir, LOCK_FILE);
  const mine: LockInfo = { pid: process.pid, since: new Date().toISOString() };
  // Two tries: the second after a stale lock (its process gone) was removed.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, JSON.stringify(mine), { flag: 'wx' });
      return {
        announce(url) {
          if (readLock(file)?.pid === process.pid) writeFileSync(file, JSON.stringify({ ...mine, url }));
        },
        release() {
          if (readLock(file)?.pid !== process.pid) return;
          try {
            unlinkSync(file);
          } catch {
            // Already gone.
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const held = readLock(file);
    if (held && isAlive(held.pid)) {
      const where = held.url ? `the server listening on ${held.url} (port ${new URL(held.url).port || 80}, pid ${held.pid})` : `another server starting up (pid ${held.pid})`;
      throw new Error(`the data dir ${dir} is in use by ${where}; stop that server, or start this one with another data dir (--data <dir>)`);
    }
    try {
      unlinkSync(file);
    } catch {
      // Removed meanwhile by another starter: the next try decides.
    }
  }
  throw new Error(`the data dir ${dir} could not be locked (${file} keeps coming back); is another server starting on it?`);
}

/**
 * The live process that holds a data dir (a server, or an `agent run` on it), from its lock; undefined when the dir is
 * free (no lock, or the lock of a process that is gone).
 */
export function dataDirHolder(dir: string): { pid: number; url?: string } | undefined {
  const held = readLock(join(dir, LOCK_FILE));
  return held && held.pid !== process.pid && isAlive(held.pid) ? { pid: held.pid, ...(held.url ? { url: held.url } : {}) } : undefined;
}

function readLock(file: string): LockInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockInfo>;
    return typeof info.pid === 'number' ? (info as LockInfo) : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
