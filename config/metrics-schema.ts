// The worker's Prometheus endpoint (worker/metrics-server.ts). Absent: no listener.
//
//   metrics:
//     listen: 127.0.0.1:9464      # host:port of GET /metrics ([::]:9464 for every IPv6 address)
//     cacheSeconds: 60            # a scrape within this many seconds of the last one is served from memory
//     failureLookbackDays: 7      # how far back Temporal is asked for killed tier runs
//     drillMaxAgeDays: 35         # a drill older than this is overdue (alert OsbackupDrillOverdue)
//     sdkListen: 127.0.0.1:9465   # optional: the Temporal SDK's own metrics (worker slots, polls, latencies)
import { z } from 'zod';

/** "host:port", "[v6]:port" or ":port" (every address). */
export const listenSchema = z
  .string()
  .regex(
    /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]*):\d{1,5}$/,
    'must be "host:port", e.g. "127.0.0.1:9464", "[::]:9464" or ":9464"',
  )
  .refine((s) => Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535, 'the port must be 0-65535');

/** Splits "127.0.0.1:9464" / "[::1]:9464" / ":9464" into what net.Server.listen takes. */
export function parseListen(s: string): { host: string | undefined; port: number } {
  const i = s.lastIndexOf(':');
  const host = s.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host: host || undefined, port: Number(s.slice(i + 1)) };
}

export const metricsSchema = z
  .object({
    listen: listenSchema.default('127.0.0.1:9464'),
    /**
     * Scrapes within this window are served from the last collection: a collection lists every
     * target (S3 LISTs included) and asks Temporal for killed runs, which must not happen on
     * every scrape of every Prometheus replica. 0: collect on every scrape.
     */
    cacheSeconds: z.number().min(0).max(3600).default(60),
    /** Killed tier runs (timed out, terminated) are looked up in Temporal this far back; keep it under the namespace's retention. */
    failureLookbackDays: z.number().int().min(1).max(90).default(7),
    /** A DR drill older than this is overdue (osbackup_drill_max_age_seconds; alert OsbackupDrillOverdue). */
    drillMaxAgeDays: z.number().positive().default(35),
    /** The Temporal SDK's Prometheus exporter (Rust core: worker slots, poll and task latencies), on its own port. */
    sdkListen: listenSchema.optional(),
  })
  .strict();
export type MetricsConfig = z.infer<typeof metricsSchema>;
