// The drill and rebuild records of one cloud, read from the repository (clouds/<c>/drills/<id>/drill.json).
// A torn or foreign file is named, not fatal: the report shows what it could not read.
import { DRILL_RECORD_FILE, drillsPrefix, newestFirst, parseDrillRecord, type DrillRecord } from '../../workflows/lib/drill-record.js';
import type { TargetStore } from '../storage/target.js';

export interface DrillListing {
  /** Newest first. */
  records: DrillRecord[];
  /** Keys of records that did not parse as a drill record of this format. */
  unreadable: string[];
}

export async function listDrillRecords(t: TargetStore, cloud: string): Promise<DrillListing> {
  const keys = (await t.list(drillsPrefix(cloud)))
    .map((o) => o.key)
    .filter((k) => k.endsWith(`/${DRILL_RECORD_FILE}`))
    .sort();
  const records: DrillRecord[] = [];
  const unreadable: string[] = [];
  for (const k of keys) {
    const r = parseDrillRecord((await t.readText(k)) ?? '');
    if (r && r.cloud === cloud) records.push(r);
    else unreadable.push(k);
  }
  return { records: newestFirst(records), unreadable };
}
