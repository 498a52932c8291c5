// Reads and updates the run journals (core/tiers/run-journal.ts) on the repository. The tier
// workflow's activity and the worker's metrics collector both write them from the same process:
// updates of one journal go one at a time (read-modify-write). A second worker racing on the same
// file can lose an entry; the collector adds it again from Temporal while the run is inside its
// look-back, so the journal heals.
import { redact } from '../redact.js';
import type { TargetStore } from '../storage/target.js';
import {
  addFailures,
  addSuccess,
  emptyJournal,
  parseRunJournal,
  runJournalKey,
  runsPrefix,
  type RunFailure,
  type RunJournal,
  type RunSuccess,
} from '../../core/tiers/run-journal.js';

const queues = new Map<string, Promise<unknown>>();

function serial<T>(key: string, work: () => Promise<T>): Promise<T> {
  const next = (queues.get(key) ?? Promise.resolve()).then(work, work);
  queues.set(
    key,
    next.catch(() => undefined),
  );
  return next;
}

export async function readRunJournal(t: TargetStore, cloud: string, tier: string): Promise<RunJournal> {
  return parseRunJournal(await t.readText(runJournalKey(cloud, tier))) ?? emptyJournal(cloud, tier);
}

/** Every journal of a cloud (one per tier that has run). */
export async function readRunJournals(t: TargetStore, cloud: string): Promise<RunJournal[]> {
  const out: RunJournal[] = [];
  for (const o of await t.list(runsPrefix(cloud))) {
    if (!o.key.endsWith('.json')) continue;
    const j = parseRunJournal(await t.readText(o.key));
    if (j) out.push(j);
  }
  return out;
}

/** Adds failures (deduplicated by run id); writes only when something was new. Returns how many were. */
export function recordFailures(
  t: TargetStore,
  cloud: string,
  tier: string,
  failures: RunFailure[],
  nowMs = Date.now(),
): Promise<number> {
  const key = `${t.name}:${runJournalKey(cloud, tier)}`;
  return serial(key, async () => {
    const clean = failures.map((f) => ({
      ...f,
      message: f.message ? redact(f.message.split('\n')[0]!).slice(0, 300) : null,
    }));
    const { journal, added } = addFailures(await readRunJournal(t, cloud, tier), clean, nowMs);
    if (added) await t.putText(runJournalKey(cloud, tier), JSON.stringify(journal, null, 2) + '\n');
    return added;
  });
}

export function recordSuccess(t: TargetStore, cloud: string, tier: string, s: RunSuccess): Promise<void> {
  return serial(`${t.name}:${runJournalKey(cloud, tier)}`, async () => {
    const j = addSuccess(await readRunJournal(t, cloud, tier), s);
    await t.putText(runJournalKey(cloud, tier), JSON.stringify(j, null, 2) + '\n');
  });
}
