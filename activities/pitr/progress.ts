// The archiver's progress on an idle server, kept durably in the repository: one small JSON
// object per host, replaced atomically (temporary file, fsync, rename). A crash leaves the
// previous one, which only understates how far the archive reaches.
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { progressKey, type ArchiveProgress } from '../../core/pitr/segments.js';
import type { Env } from '../deps.js';

export async function writeArchiveProgress(env: Env, cloud: string, p: ArchiveProgress): Promise<void> {
  await env.repo.writeAtomic(env.repo.path(progressKey(cloud, p.host)), JSON.stringify(p, null, 2) + '\n');
}

/** Every host's progress for the cloud; unreadable objects are ignored (they only extend the range). */
export async function readArchiveProgress(env: Env, cloud: string): Promise<ArchiveProgress[]> {
  const dir = dirname(env.repo.path(progressKey(cloud, 'x')));
  const out: ArchiveProgress[] = [];
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (!f.endsWith('.json')) continue;
    try {
      const p = JSON.parse(await readFile(join(dir, f), 'utf8')) as ArchiveProgress;
      if (
        typeof p.host === 'string' &&
        typeof p.file === 'string' &&
        Number.isInteger(p.position) &&
        Number.isFinite(Date.parse(p.archivedThrough))
      )
        out.push(p);
    } catch {
      /* torn or foreign: the segments alone still say how far the archive reaches */
    }
  }
  return out;
}
