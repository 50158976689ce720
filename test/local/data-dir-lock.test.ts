import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCK_FILE, lockDataDir } from '../../local/data-dir-lock';
import { startDynalite } from '../../local/dynamo';

/** Issue 31 item 9: a second server on a data dir in use gets a clear error naming the dir and the running server. */
describe('one server per data dir', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'agent-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a dir held by a live server: the second start fails naming the dir and the running server’s port, before opening the database', async () => {
    // The jest parent process stands for the running server.
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: process.ppid, url: 'http://localhost:3999', since: new Date().toISOString() }));
    await expect(startDynalite({ path: dir })).rejects.toThrow(new RegExp(`data dir ${dir} is in use by the server listening on http://localhost:3999 \\(port 3999`));
    expect(existsSync(join(dir, 'CURRENT'))).toBe(false); // dynalite never opened it
  });

  it('a lock left by a server that died (kill -9) is taken over; close releases it; the next start locks again', async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: dead, url: 'http://localhost:3998', since: new Date().toISOString() }));
    const first = await startDynalite({ path: dir });
    first.lock?.announce('http://localhost:4100');
    expect(() => lockDataDir(dir)).toThrow(/in use/);
    await first.close();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    const again = await startDynalite({ path: dir });
    await again.close();
  });
});
