// `osbackup report`: the thresholds its "open breaches" section judges against (per cloud).
import { z } from 'zod';

export const reportSchema = z
  .object({
    /** A gap between two database restore points longer than this is an RPO breach (the daily tier plus slack). */
    backupRpoTargetHours: z.number().positive().default(26),
    /** No passed drill within this many days: the drill is overdue. */
    drillMaxAgeDays: z.number().positive().default(31),
    /** Days the backup calendar and the charts cover, ending today (UTC). */
    days: z.number().int().min(7).max(366).default(35),
  })
  .strict();
export type ReportConfig = z.infer<typeof reportSchema>;
