// The `schedules` section of a cloud: when each tier runs, as Temporal Schedules
// (`osbackup schedules apply`). Calendars are structured, never only cron strings: in standard
// cron a day-of-month and a day-of-week field are ORed, so "the first Sunday" cannot be said;
// in a Temporal calendar every field must match (dayOfMonth 1-7 AND dayOfWeek Sunday).
//
//   schedules:
//     timeZone: Europe/Berlin          # IANA name; the server evaluates calendars in it
//     overlap: BUFFER_ONE              # what happens when the previous run still runs
//     catchupWindow: 1h                # how late a missed run may still start
//     pauseOnFailure: false
//     entries:
//       daily:   { calendar: { hour: 2 } }
//       monthly: { calendar: { hour: 5, dayOfWeek: sunday, dayOfMonth: 1-7 } }
//       verify:  { enabled: false }
import { z } from 'zod';
import { durationSchema, parseDuration } from '../core/retention/policy.js';

import type { Calendar, CalendarRange } from '../core/schedule/calendar.js';

export type { Calendar, CalendarRange };

const DAY_NAMES = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const MONTH_NAMES = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];

interface FieldRule {
  min: number;
  max: number;
  /** Names for values (full or the first three letters, any case), e.g. days of the week. */
  names?: { list: string[]; first: number; what: string };
  example: string;
}

// dayOfWeek takes 0-7 as cron does (0 and 7 are Sunday), so "fri-sun" is a range; it is stored as 0-6.
const RULES = {
  minute: { min: 0, max: 59, example: '0, 30, [0, 30], "0-59/15"' },
  hour: { min: 0, max: 23, example: '2, [2, 14], "1-5"' },
  dayOfMonth: { min: 1, max: 31, example: '1, "1-7", [1, 15]' },
  month: { min: 1, max: 12, names: { list: MONTH_NAMES, first: 1, what: 'month' }, example: '1, january, "jan-mar"' },
  dayOfWeek: {
    min: 0,
    max: 7,
    names: { list: DAY_NAMES, first: 0, what: 'day of the week' },
    example: 'sunday, [mon, thu], "mon-fri", "fri-sun", 0 (= Sunday)',
  },
} satisfies Record<string, FieldRule>;
type FieldName = keyof typeof RULES;

function valueOf(v: unknown, rule: FieldRule): number | string {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v !== 'string') return `${JSON.stringify(v)} is not a value`;
  else if (/^\d+$/.test(v.trim())) n = Number(v.trim());
  else {
    const s = v.trim().toLowerCase();
    const i = rule.names
      ? rule.names.list.findIndex((name) => name === s || (s.length === 3 && name.startsWith(s)))
      : -1;
    if (i < 0) return rule.names ? `"${v}" is not a ${rule.names.what}` : `"${v}" is not a number`;
    n = i + rule.names!.first;
  }
  if (!Number.isInteger(n)) return `${n} is not a whole number`;
  if (n < rule.min || n > rule.max) return `${n} is outside ${rule.min}-${rule.max}`;
  return n;
}

function rangeFrom(a: unknown, b: unknown, step: unknown, rule: FieldRule): CalendarRange | string {
  const start = valueOf(a, rule);
  if (typeof start === 'string') return start;
  let end = valueOf(b, rule);
  if (typeof end === 'string') return end;
  // "fri-sun": Sunday closing a range is day 7
  if (rule.max === 7 && end === 0 && start > 0) end = 7;
  if (end < start) return `the range ${String(a)}-${String(b)} is empty (it would wrap around; write it as two items)`;
  if (typeof step !== 'number' || !Number.isInteger(step) || step < 1)
    return `step ${JSON.stringify(step)} must be a whole number ≥ 1`;
  return { start, end, step };
}

/** One item of a field (a value, "a-b", "a-b/step", "*\/step" or { start, end, step }) → a range, or the reason it is not one. */
function rangeOf(item: unknown, rule: FieldRule): CalendarRange | string {
  if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
    const o = item as Record<string, unknown>;
    const extra = Object.keys(o).filter((k) => !['start', 'end', 'step'].includes(k));
    if (extra.length) return `unknown key ${extra.map((k) => `"${k}"`).join(', ')} in a range (start, end, step)`;
    if (o.start === undefined) return 'a range needs "start"';
    return rangeFrom(o.start, o.end ?? o.start, o.step ?? 1, rule);
  }
  if (typeof item === 'number') return rangeFrom(item, item, 1, rule);
  if (typeof item !== 'string') return `${JSON.stringify(item)} is not a value or range`;
  const m = /^\s*([^-/\s]+)\s*(?:-\s*([^-/\s]+)\s*)?(?:\/\s*(\d+)\s*)?$/.exec(item);
  if (!m) return `"${item}" is not a value or range`;
  if (m[1] === '*') return m[2] ? `"${item}" is not a range` : rangeFrom(rule.min, rule.max, Number(m[3] ?? 1), rule);
  return rangeFrom(m[1], m[2] ?? m[1], Number(m[3] ?? 1), rule);
}

/** Sunday as 7 becomes 0 (a range ending on 7 is split), so every stored dayOfWeek is 0-6. */
function sundayAsZero(r: CalendarRange): CalendarRange[] {
  if (r.start === 7) return [{ start: 0, end: 0, step: 1 }];
  if (r.end < 7) return [r];
  const out: CalendarRange[] = [{ start: r.start, end: 6, step: r.step }];
  if ((7 - r.start) % r.step === 0) out.push({ start: 0, end: 0, step: 1 });
  return out;
}

/** A calendar field: "*" (every value), one item, or a list of items. */
function field(name: FieldName) {
  const rule: FieldRule = RULES[name];
  return z.unknown().transform((v, ctx): CalendarRange[] => {
    if (v === undefined) {
      ctx.addIssue({ code: 'custom', message: `is required (e.g. ${rule.example}, or "*" for every ${name})` });
      return z.NEVER;
    }
    if (v === '*') return [{ start: rule.min, end: name === 'dayOfWeek' ? 6 : rule.max, step: 1 }];
    const items = Array.isArray(v) ? v : [v];
    if (items.length === 0) {
      ctx.addIssue({ code: 'custom', message: `must list at least one value (e.g. ${rule.example}), or be "*"` });
      return z.NEVER;
    }
    const out: CalendarRange[] = [];
    for (const item of items) {
      const r = rangeOf(item, rule);
      if (typeof r === 'string') {
        ctx.addIssue({
          code: 'custom',
          message: `${r} (allowed: ${rule.min}-${rule.max}${rule.names ? ` or ${rule.names.what} names` : ''}, e.g. ${rule.example})`,
        });
        return z.NEVER;
      }
      out.push(...(name === 'dayOfWeek' ? sundayAsZero(r) : [r]));
    }
    return out;
  });
}

export const calendarSchema = z
  .object({
    minute: field('minute').optional(),
    // no default: a backup calendar without an hour is a mistake more often than "midnight"
    hour: field('hour'),
    dayOfMonth: field('dayOfMonth').optional(),
    month: field('month').optional(),
    dayOfWeek: field('dayOfWeek').optional(),
  })
  .strict()
  .transform((c): Calendar => {
    const out: Calendar = { minute: c.minute ?? [{ start: 0, end: 0, step: 1 }], hour: c.hour };
    if (c.dayOfMonth) out.dayOfMonth = c.dayOfMonth;
    if (c.month) out.month = c.month;
    if (c.dayOfWeek) out.dayOfWeek = c.dayOfWeek;
    return out;
  });

/** Temporal's ScheduleOverlapPolicy names (ALLOW_ALL is refused: two backups of one database at once). */
export const OVERLAP_POLICIES = ['SKIP', 'BUFFER_ONE', 'BUFFER_ALL', 'CANCEL_OTHER', 'TERMINATE_OTHER'] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

const overlapSchema = z.string().transform((s, ctx): OverlapPolicy => {
  const up = s.trim().toUpperCase().replace(/-/g, '_');
  if ((OVERLAP_POLICIES as readonly string[]).includes(up)) return up as OverlapPolicy;
  ctx.addIssue({
    code: 'custom',
    message:
      up === 'ALLOW_ALL'
        ? 'ALLOW_ALL is not allowed: it runs two backups of the same cloud at once'
        : `must be one of ${OVERLAP_POLICIES.join(', ')} (Temporal's ScheduleOverlapPolicy)`,
  });
  return z.NEVER;
});

// The server stores anything shorter as 10 s (measured on 1.32); refusing it keeps the config
// saying what the server does.
const MIN_CATCHUP_MS = 10_000;
const catchupSchema = durationSchema.refine(
  (s) => (parseDuration(s) ?? MIN_CATCHUP_MS) >= MIN_CATCHUP_MS,
  'must be at least 10s (Temporal raises anything shorter to 10s)',
);

const timeZoneSchema = z.string().superRefine((zone, ctx) => {
  let resolved: string | undefined;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    /* not a zone */
  }
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(zone) || resolved === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `"${zone}" is not an IANA time zone name such as "UTC" or "Europe/Berlin" (fixed offsets like "+01:00" are not zones the server knows)`,
    });
  } else if (resolved !== zone && resolved.toLowerCase() === zone.toLowerCase()) {
    ctx.addIssue({
      code: 'custom',
      message: `write "${resolved}": the Temporal server looks zone names up case-sensitively`,
    });
  }
});

/** The entries osbackup schedules, with the seed's times. The key is the entry's name in ids and on the CLI. */
export const ENTRY_DEFAULTS = {
  /** DB incremental on the current chain. */
  daily: { hour: 2 },
  /** Kolla tree, Keystone keys, RabbitMQ definitions. */
  controlPlane: { hour: 2, minute: 30 },
  /** DB full + volumes: starts the week's chain. */
  weekly: { hour: 3, dayOfWeek: 'sunday' },
  /** Promotes that Sunday's full chain to the monthly targets: after the weekly full, first Sunday only. */
  monthly: { hour: 5, dayOfWeek: 'sunday', dayOfMonth: '1-7' },
  /** Retention: after the night's backups and the monthly promotion. */
  rotate: { hour: 5, minute: 30 },
  /** Scrub (re-read and hash every artifact) mid-week, away from the Sunday fulls. */
  verify: { hour: 4, dayOfWeek: 'wednesday' },
  /**
   * The DR drill (clouds.<c>.drill.schedule, not under schedules.entries: a drill needs a drill
   * host, so it is configured with it): the second Sunday of the month, away from the first
   * Sunday's monthly promotion and after the night's backups.
   */
  drill: { hour: 6, dayOfWeek: 'sunday', dayOfMonth: '8-14' },
  /**
   * A logical dump of every schema (logicalDumpWorkflow) before the night's incremental. Off
   * unless enabled: a dump reads every row of every table through the server (hours on a large
   * cloud, on the node the cloud writes to), so it is a choice, not a default.
   */
  dump: { hour: 1, minute: 30 },
} as const;
export type EntryName = keyof typeof ENTRY_DEFAULTS;
export const ENTRY_NAMES = Object.keys(ENTRY_DEFAULTS) as EntryName[];

/**
 * The retention entry is `rotate` in configs, ids and the Tier search attribute (all stored);
 * `retention`, the name the CLI and the docs use, is accepted as its spelling in the config.
 */
function retentionSpelling(v: unknown, ctx: z.RefinementCtx): unknown {
  if (!v || typeof v !== 'object' || !('retention' in v)) return v;
  const { retention, ...rest } = v as Record<string, unknown>;
  if ('rotate' in rest) {
    ctx.addIssue({ code: 'custom', path: ['retention'], message: '`retention` and `rotate` are one entry: keep one' });
    return v;
  }
  return { ...rest, rotate: retention };
}

export function entrySchema(calendar: (typeof ENTRY_DEFAULTS)[EntryName], enabled = true) {
  return z
    .object({
      enabled: z.boolean().default(enabled),
      calendar: calendarSchema.prefault({ ...calendar }),
      /** Overrides of the section's policies for this entry. */
      overlap: overlapSchema.optional(),
      catchupWindow: catchupSchema.optional(),
      pauseOnFailure: z.boolean().optional(),
    })
    .strict()
    .prefault({});
}

export const schedulesSchema = z
  .object({
    timeZone: timeZoneSchema.default('UTC'),
    overlap: overlapSchema.default('BUFFER_ONE'),
    catchupWindow: catchupSchema.default('1h'),
    pauseOnFailure: z.boolean().default(false),
    entries: z
      .preprocess(
        retentionSpelling,
        z
          .object({
            daily: entrySchema(ENTRY_DEFAULTS.daily),
            controlPlane: entrySchema(ENTRY_DEFAULTS.controlPlane),
            weekly: entrySchema(ENTRY_DEFAULTS.weekly),
            monthly: entrySchema(ENTRY_DEFAULTS.monthly),
            rotate: entrySchema(ENTRY_DEFAULTS.rotate),
            verify: entrySchema(ENTRY_DEFAULTS.verify),
            dump: entrySchema(ENTRY_DEFAULTS.dump, false),
          })
          .strict(),
      )
      .prefault({}),
  })
  .strict();
export type SchedulesConfig = z.infer<typeof schedulesSchema>;
