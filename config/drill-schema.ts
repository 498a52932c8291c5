// The `drill` section of a cloud: where DR drills restore (drDrillWorkflow, `osbackup dr drill`),
// the targets they are measured against, and when they run on their own.
//
//   drill:
//     host: drill1              # a host of this cloud with a mariadb section; never the live database host
//     rtoTargetSeconds: 3600    # the drill fails when restore + checks take longer
//     rpoTargetSeconds: 86400   # ... or when the newest recoverable instant is older than this at the drill's start
//     tables: [keystone.project, nova.instances]   # the seed's integrity counts
//     schedule: { calendar: { hour: 6, dayOfWeek: sunday, dayOfMonth: 8-14 } }   # default: monthly
import { z } from 'zod';
import { ENTRY_DEFAULTS, entrySchema } from './schedule-schema.js';

const tableName = z.string().regex(/^[A-Za-z0-9_$]+\.[A-Za-z0-9_$]+$/, 'must be "schema.table"');

export const drillSchema = z
  .object({
    /** The isolated host the drill restores onto (a key of `hosts` with a mariadb section). Its data is replaced (kept aside) each drill. */
    host: z.string().min(1, 'must name a host'),
    /** Recovery time objective: restore + integrity checks must finish within it. Unset: measured, not judged. */
    rtoTargetSeconds: z.number().positive().optional(),
    /** Recovery point objective: drill start minus the newest recoverable instant must stay within it. Unset: measured, not judged. */
    rpoTargetSeconds: z.number().positive().optional(),
    /** Tables whose SELECT COUNT(*) the drill compares with the restore point's recorded facts (the seed's checks). */
    tables: z.array(tableName).default(['keystone.project', 'nova.instances']),
    /** Also restore the newest control-plane backup into a scratch folder on the drill host and check its files' hashes. */
    controlPlane: z.boolean().default(false),
    /** When the drill runs on its own (`osbackup schedules apply`); default monthly, the second Sunday at 06:00. */
    schedule: entrySchema(ENTRY_DEFAULTS.drill),
  })
  .strict();
export type DrillConfig = z.infer<typeof drillSchema>;

/** clouds.<c>.drill.host must be a host with mariadb that is not the live database (nor a Galera node). */
export function drillCrossReferenceProblems(raw: unknown): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const clouds = (raw as { clouds?: unknown })?.clouds;
  if (!clouds || typeof clouds !== 'object') return out;
  for (const [name, cloud] of Object.entries(clouds as Record<string, unknown>)) {
    const c = cloud as {
      hosts?: Record<string, { mariadb?: unknown } | undefined>;
      database?: { host?: unknown; galera?: { nodes?: unknown } };
      drill?: { host?: unknown };
    } | null;
    const h = c?.drill?.host;
    if (typeof h !== 'string') continue;
    const hosts = c?.hosts && typeof c.hosts === 'object' ? c.hosts : {};
    const live = [c?.database?.host, ...(Array.isArray(c?.database?.galera?.nodes) ? c.database.galera.nodes : [])];
    if (!hosts[h])
      out.push({
        path: `clouds.${name}.drill.host`,
        message: `names host "${h}", which is not under hosts (${Object.keys(hosts).join(', ') || 'none'})`,
      });
    else if (live.includes(h))
      out.push({
        path: `clouds.${name}.drill.host`,
        message: `is the live database host "${h}": a drill replaces the data of its host; name an isolated lab host`,
      });
    else if (!hosts[h]!.mariadb)
      out.push({
        path: `clouds.${name}.hosts.${h}.mariadb`,
        message: 'is required on the drill host (the drill restores the database there)',
      });
  }
  return out;
}
