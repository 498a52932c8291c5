// The DR drill's activities: its plan (drill host, targets, the newest VERIFIED restore point
// with its recorded facts, how far the binlog archive reaches from it) and its record
// (drill.json + REPORT.md in the repository, read back by `osbackup status`).
import { planPointInTime, segmentLink } from '../../core/pitr/segments.js';
import { chainTo } from '../../core/chain/chain.js';
import { newestRecoverable, pickDrillPoint, renderDrillReport } from '../../core/dr/drill.js';
import {
  drillRecordKey,
  drillReportKey,
  drillsPrefix,
  DRILL_RECORD_FILE,
  newestFirst,
  parseDrillRecord,
  type DrillRecord,
} from '../../core/dr/record.js';
import { type RecordedTableFact } from '../../core/manifest/manifest.js';
import { isBinlogManifest, isDatabaseManifest, type AnyManifest } from '../../core/manifest/any-manifest.js';
import type { ControlPlaneManifest } from '../../core/control-plane/control-plane.js';

const isControlPlaneManifest = (m: AnyManifest): m is ControlPlaneManifest => m.component === 'control-plane';
import type { ActivityContext } from '../context.js';
import { fatal, FailureType } from '../errors.js';
import { readArchiveProgress } from '../pitr/progress.js';

export interface DrillPlan {
  host: string;
  /** The repository's target name (the control-plane hashes are re-read there). */
  repository: string;
  targets: { rtoSeconds: number | null; rpoSeconds: number | null };
  tables: string[];
  point: { id: string; component: string; completedAt: string; verification: string };
  /** The facts the restore point recorded (counts and checksums the drill compares with). */
  recorded: RecordedTableFact[];
  /** The newest instant recoverable from the point (its consistency time, or the end of the binlog archive from it). */
  newest: { at: string; via: 'restore point' | 'binlog archive' };
  /** The newest control-plane backup, when the drill checks it too; its Kolla tree (if any) goes into `scratchPath` on the drill host. */
  controlPlane: { id: string; kolla: boolean; scratchName: string; scratchPath: string } | null;
}

export function drillActivities({ env, catalog }: ActivityContext) {
  return {
    /** Everything the drill decides before touching the drill host; refuses the live database host. */
    async drillPlan(input: { cloud: string; drillId: string }): Promise<DrillPlan> {
      const { cloud } = input;
      const c = env.cloud(cloud);
      const d = c.drill;
      if (!d)
        throw fatal(
          FailureType.ConfigInvalid,
          `cloud ${cloud} has no drill section`,
          `add clouds.${cloud}.drill with host: <an isolated host with a mariadb section> (see docs/drills-and-status.md) and restart the worker`,
        );
      const live = [c.database.host, ...(c.database.galera?.nodes ?? [])];
      if (live.includes(d.host))
        throw fatal(
          FailureType.ConfigInvalid,
          `drill host ${d.host} is the live database host of cloud ${cloud}: a drill replaces the data of its host`,
          `set clouds.${cloud}.drill.host to an isolated lab host`,
        );
      const drillHost = env.dbHost(cloud, d.host).host; // exists, with a mariadb section
      const picked = pickDrillPoint(await catalog.list(cloud), cloud, d.host);
      if ('problem' in picked)
        throw fatal(
          FailureType.BackupNotFound,
          `no restore point to drill on: ${picked.problem}`,
          `prove a backup by a restore first (\`osbackup restore db --cloud ${cloud} --to ${d.host} --verify\`), then run the drill again`,
        );
      const p = picked.point;
      const all = await env.repo.scanManifests(cloud);
      const points = all.filter(isDatabaseManifest);
      const manifest = points.find((m) => m.id === p.id);
      if (!manifest)
        throw fatal(
          FailureType.BackupNotFound,
          `restore point ${p.id} is in the catalog but its manifest is gone from the repository`,
          'run `osbackup catalog rebuild`, then the drill again',
        );
      // how far a recovery from this point reaches: only its own chain counts (that is what the drill proves)
      const chain = chainTo(points, p.id);
      const mine = 'chain' in chain ? chain.chain : [manifest];
      const far = planPointInTime(
        mine,
        all.filter(isBinlogManifest).map(segmentLink),
        { at: '9999-12-31T23:59:59Z' },
        await readArchiveProgress(env, cloud),
      );
      const newest = newestRecoverable(p.completedAt, 'ranges' in far ? far.ranges : []);
      const cp = d.controlPlane
        ? all.filter(isControlPlaneManifest).sort((a, b) => b.completedAt.localeCompare(a.completedAt))[0]
        : undefined;
      if (d.controlPlane && !cp)
        throw fatal(
          FailureType.BackupNotFound,
          `cloud ${cloud} has no control-plane backup to drill (drill.controlPlane is true)`,
          `take one (\`osbackup backup control-plane --cloud ${cloud}\`) or set drill.controlPlane: false`,
        );
      // the scratch folder sits in the drill host's restore folder, named so the restore's own cleanup can remove it
      const scratchName = `${input.drillId}-control-plane`;
      return {
        host: d.host,
        repository: env.config.repository.name,
        targets: { rtoSeconds: d.rtoTargetSeconds ?? null, rpoSeconds: d.rpoTargetSeconds ?? null },
        tables: d.tables,
        point: { id: p.id, component: p.component, completedAt: p.completedAt, verification: p.verification },
        recorded: manifest.tables,
        newest,
        controlPlane: cp
          ? {
              id: cp.id,
              kolla: cp.parts.some((x) => x.kind === 'kolla-config'),
              scratchName,
              scratchPath: `${drillHost.mariadb.restoreDir}/${scratchName}`,
            }
          : null,
      };
    },

    /** Writes drill.json and REPORT.md (the record last: a record present means the report is too). */
    async drillWriteRecord(input: { record: DrillRecord }): Promise<{ record: string; report: string }> {
      const r = input.record;
      const t = env.primary;
      await t.putText(drillReportKey(r.cloud, r.id), renderDrillReport(r));
      await t.putText(drillRecordKey(r.cloud, r.id), JSON.stringify(r, null, 2) + '\n');
      return {
        record: env.repo.path(drillRecordKey(r.cloud, r.id)),
        report: env.repo.path(drillReportKey(r.cloud, r.id)),
      };
    },

    /** The cloud's drill records, newest first (at most `limit`); unreadable ones are skipped. */
    async drillListRecords(input: { cloud: string; limit?: number }): Promise<DrillRecord[]> {
      const keys = (await env.primary.list(drillsPrefix(input.cloud)))
        .map((o) => o.key)
        .filter((k) => k.endsWith(`/${DRILL_RECORD_FILE}`));
      const out: DrillRecord[] = [];
      for (const k of keys) {
        const r = parseDrillRecord((await env.primary.readText(k)) ?? '');
        if (r) out.push(r);
      }
      return newestFirst(out).slice(0, input.limit ?? 20);
    },
  };
}
