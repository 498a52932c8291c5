// `osbackup report`: the thresholds its "open breaches" section judges against (per cloud).
import { z } from 'zod';

export const reportSchema = z
  .object({
    /** A gap between two database restore points longer than this is an RPO breach (the daily tier plus slack). */
    backupRpoTargetHours: z.number().positive().default(26),
    /** No passed drill within this many days: the drill is overdue (the default drill runs monthly on the second Sunday: up to 35 days apart). */
    drillMaxAgeDays: z.number().positive().default(38),
    /** Days the backup calendar and the charts cover, ending today (UTC). */
    days: z.number().int().min(7).max(366).default(35),
  })
  .strict();
export type ReportConfig = z.infer<typeof reportSchema>;
