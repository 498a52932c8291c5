// The retention policy of one target, validated with zod. Pure (no I/O), so workflows, the
// worker's config loader and the client all parse the same policy the same way.
import { z } from 'zod';

// "m" is deliberately not a unit: in `monthly: "12m"` it would read as minutes to a machine
// and as months to a person. Months have no fixed length; say "365d" or "1y" instead.
const UNIT_MS = { s: 1_000, min: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, y: 365 * 86_400_000 } as const;
const DURATION = /^(\d+)(s|min|h|d|w|y)$/;

/** "10d" → milliseconds, or null when the text is not a duration this module understands. */
export function parseDuration(text: string): number | null {
  const m = DURATION.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

export const durationSchema = z
  .string()
  .refine(
    (s) => parseDuration(s) !== null,
    'must be a duration such as "36h", "10d", "8w" or "1y" (units s, min, h, d, w, y; "m" is ambiguous and not accepted)',
  );

/** A fixed offset such as "+05:30" or "-08:00", done with plain arithmetic. */
const OFFSET = /^([+-])(\d{2}):(\d{2})$/;

/** Minutes east of UTC for a fixed-offset zone, or null for a named (IANA) zone. */
export function fixedOffsetMinutes(zone: string): number | null {
  if (zone === 'UTC' || zone === 'Z') return 0;
  const m = OFFSET.exec(zone);
  if (!m) return null;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

// Building a formatter costs more than the rest of a policy parse: remember the answer.
const knownZones = new Map<string, boolean>();

function validZone(zone: string): boolean {
  const off = fixedOffsetMinutes(zone);
  if (off !== null) return Math.abs(off) <= 14 * 60;
  let ok = knownZones.get(zone);
  if (ok === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
      ok = true;
    } catch {
      ok = false;
    }
    knownZones.set(zone, ok);
  }
  return ok;
}

/** Keep the newest restore point of each of the last N buckets that have one, or of every bucket no older than a duration. */
const countOrDuration = z.union([z.number().int().min(0), durationSchema]);

export const retentionPolicySchema = z
  .object({
    /** The N newest restore points, whatever their buckets (the newest one is kept even with 0). */
    keepLast: z.number().int().min(0).default(0),
    daily: countOrDuration.default(7),
    weekly: countOrDuration.default(4),
    monthly: countOrDuration.default(12),
    /**
     * Every second from now minus this window up to the newest archived binlog event stays
     * recoverable. Unset: only the binlog after the newest restore point is kept.
     */
    pointInTimeWindow: durationSchema.optional(),
    /** Calendar for the day/week/month buckets: an IANA name ("Europe/Berlin") or a fixed offset ("+05:30"). */
    timeZone: z
      .string()
      .refine(validZone, 'must be an IANA time zone such as "Europe/Berlin", "UTC", or an offset such as "+05:30"')
      .default('UTC'),
    /** How far before a database restore point an unlinked config/fernet/rabbitmq backup may be taken and still belong to it. */
    controlPlaneMaxAge: durationSchema.default('24h'),
  })
  .strict();

/** The policy after defaults (what the planner takes). */
export type RetentionPolicy = z.output<typeof retentionPolicySchema>;
/** The policy as written in a config file. */
export type RetentionPolicyInput = z.input<typeof retentionPolicySchema>;

export const DEFAULT_RETENTION_POLICY: RetentionPolicy = retentionPolicySchema.parse({});
