import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Level } from 'level';

/**
 * Whether another process holds the on-disk DynamoDB of a data dir (dynalite keeps it in a LevelDB, which one process
 * opens at a time: a second open fails, and dynalite then fails every request with "Database is closed"). Opens the
 * database and closes it at once; a dir that holds no database yet is free.
 */
export async function dataDirInUse(dataDir: string): Promise<boolean> {
  if (!existsSync(join(dataDir, 'CURRENT'))) return false;
  const db = new Level(dataDir);
  try {
    await db.open();
    return false;
  } catch (err) {
    if ((err as { cause?: { code?: string } }).cause?.code === 'LEVEL_LOCKED') return true;
    throw err;
  } finally {
    await db.close();
  }
}
