// Writes at known UTC seconds and waiting for the binlog archiver, shared by the tests of
// point-in-time restores: each write is alone in its second, at least 2 s after the previous
// one, so a target between two writes separates them exactly.
import type { PitrArchiveStatus } from '../../workflows/pitr-archive.js';
import { sql } from './lab.js';

export interface TimedWrite {
  id: number;
  /** The UTC second (epoch seconds) the write was committed in. */
  at: number;
  gtid: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `statement` on `host` at least 2 s after the last of `writes`, and records it. */
export async function writeAlone(
  writes: TimedWrite[],
  host: string,
  id: number,
  statement: string,
): Promise<TimedWrite> {
  const prev = writes.at(-1);
  if (prev) while (Date.now() < (prev.at + 2) * 1000) await sleep(50);
  const gtid = await sql(host, `${statement}; SELECT @@last_gtid`);
  const w = { id, at: Math.floor(Date.now() / 1000), gtid: gtid.trim() };
  writes.push(w);
  return w;
}

/** Waits until the archive holds every event the server had at least a second after `at`. */
export async function archivedPast(
  status: () => Promise<PitrArchiveStatus>,
  at: number,
  timeoutMs = 30_000,
  context: () => string = () => '',
): Promise<PitrArchiveStatus> {
  const t0 = Date.now();
  for (;;) {
    let err = '';
    const s = await status().catch((e: Error) => void (err = e.message));
    if (s?.caughtUpAt && Date.parse(s.caughtUpAt) >= (at + 1) * 1000) return s;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(
        `the archive did not reach ${new Date(at * 1000).toISOString()}: ${JSON.stringify(s)} ${err}\n${context()}`,
      );
    await sleep(300);
  }
}
