// Planning of Temporal Schedules, pure: config → the schedules osbackup wants, and the
// difference with what the server has → create / update / delete / unchanged. The CLI
// (client/schedules.ts) only carries the plan out.
//
// A schedule is osbackup's when its memo says so (written at creation, never changed: Temporal
// cannot update a schedule's memo). The digest of the desired definition rides in the memo of
// the schedule's *action*, which every update replaces, so "changed?" is one string comparison
// and a second `apply` sends nothing.
import { createHash } from 'node:crypto';
import { DAYS_OF_WEEK, MONTHS, type CalendarSpec, type ScheduleOptions } from '@temporalio/client';
import type { Calendar, CalendarRange, EntryName, OverlapPolicy } from '../../config/schedule-schema.js';
import { ENTRY_NAMES } from '../../config/schedule-schema.js';
import type { Payload } from '@temporalio/common';
import { payloadKeyId } from '../../config/payload-codec.js';
import type { Config } from '../../config/schema.js';
import { taskQueueOf } from '../../config/task-queues.js';
import { parseDuration } from '../../core/retention/policy.js';
import { CLOUD, TIER } from '../../workflows/search-attributes.js';

/** Every schedule id osbackup makes starts with this. */
export const SCHEDULE_ID_PREFIX = 'osbackup-';
/** Bumped when the shape of the definition changes, so the next apply rewrites every schedule. */
const DEFINITION_VERSION = 1;

/** Entry names as they appear in ids, workflow ids and on the CLI (config keys are camelCase). */
export const ENTRY_IDS: Record<EntryName, string> = {
  daily: 'daily',
  controlPlane: 'control-plane',
  weekly: 'weekly',
  monthly: 'monthly',
  rotate: 'rotate',
  verify: 'verify',
  drill: 'drill',
  dump: 'dump',
};

export type TierName = 'daily' | 'weekly' | 'monthly' | 'control-plane' | 'dump';

/** What each entry starts: the workflow type (by name: the workflows live elsewhere), its argument, the Tier it is filed under. */
export function actionOf(
  entry: EntryName,
  cloud: string,
): { workflowType: string; args: [Record<string, string>]; tier: string } {
  switch (entry) {
    case 'daily':
    case 'weekly':
    case 'monthly':
    case 'controlPlane':
    case 'dump': {
      const tier = ENTRY_IDS[entry] as TierName;
      return { workflowType: 'tierWorkflow', args: [{ cloud, tier }], tier };
    }
    case 'rotate':
      return { workflowType: 'retentionWorkflow', args: [{ cloud }], tier: 'rotate' };
    case 'verify':
      return { workflowType: 'verifyWorkflow', args: [{ cloud }], tier: 'verify' };
    case 'drill':
      return { workflowType: 'drDrillWorkflow', args: [{ cloud }], tier: 'drill' };
  }
}

export function scheduleId(cloud: string, entry: EntryName): string {
  return `${SCHEDULE_ID_PREFIX}${cloud}-${ENTRY_IDS[entry]}`;
}

/** "control-plane", "controlPlane" → controlPlane; undefined for anything else. */
/** The entry's settings in a cloud's config (the drill's sit in its drill section); undefined when the cloud has none. */
export function entryConfig(c: Config['clouds'][string], entry: EntryName) {
  return entry === 'drill' ? c.drill?.schedule : c.schedules.entries[entry];
}

export function entryByName(name: string): EntryName | undefined {
  if (name === 'retention') return 'rotate'; // the entry's name in the docs and the CLI
  return ENTRY_NAMES.find((e) => e === name || ENTRY_IDS[e] === name);
}

export interface DesiredSchedule {
  scheduleId: string;
  cloud: string;
  entry: EntryName;
  workflowType: string;
  args: [Record<string, string>];
  /** Temporal appends the scheduled time: `<cloud>-<entry>-2026-12-06T03:00:00Z`. */
  workflowId: string;
  taskQueue: string;
  timeZone: string;
  calendar: Calendar;
  overlap: OverlapPolicy;
  catchupWindowMs: number;
  pauseOnFailure: boolean;
  searchAttributes: { Cloud: string; Tier: string };
  /** sha256 of everything above, in a canonical form. */
  digest: string;
}

/** The osbackup marker in a schedule's memo. */
export interface ManagedMemo {
  managedBy: 'osbackup';
  cloud: string;
  entry: EntryName;
}

/** JSON with sorted keys, so equal definitions hash equal whatever order they were built in. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export function definitionDigest(d: Omit<DesiredSchedule, 'digest'>): string {
  return createHash('sha256')
    .update(canonical({ v: DEFINITION_VERSION, ...d }))
    .digest('hex');
}

/** The schedules the config asks for (enabled entries of the given clouds), and why any entry is left out. */
export function desiredSchedules(
  config: Config,
  clouds: string[] = Object.keys(config.clouds),
): { desired: DesiredSchedule[]; notes: string[] } {
  const desired: DesiredSchedule[] = [];
  const notes: string[] = [];
  for (const cloud of clouds) {
    const c = config.clouds[cloud];
    if (!c) throw new Error(`cloud "${cloud}" is not in the config`);
    const s = c.schedules;
    for (const entry of ENTRY_NAMES) {
      // the drill's entry lives in the cloud's drill section, with the host it needs
      const e = entryConfig(c, entry);
      if (!e?.enabled) continue; // no drill section: nothing to drill onto

      // a nightly failure with nothing to back up would only teach people to ignore failures
      if (entry === 'controlPlane' && !c.controlPlane && !c.rabbitmq) {
        notes.push(
          `${scheduleId(cloud, entry)}: not scheduled — cloud ${cloud} has no controlPlane or rabbitmq section, so there is nothing for it to back up`,
        );
        continue;
      }
      const a = actionOf(entry, cloud);
      const d: Omit<DesiredSchedule, 'digest'> = {
        scheduleId: scheduleId(cloud, entry),
        cloud,
        entry,
        workflowType: a.workflowType,
        args: a.args,
        workflowId: `${cloud}-${ENTRY_IDS[entry]}`,
        taskQueue: taskQueueOf(config, cloud),
        timeZone: s.timeZone,
        calendar: e.calendar,
        overlap: e.overlap ?? s.overlap,
        catchupWindowMs: parseDuration(e.catchupWindow ?? s.catchupWindow)!,
        pauseOnFailure: e.pauseOnFailure ?? s.pauseOnFailure,
        searchAttributes: { Cloud: cloud, Tier: a.tier },
      };
      desired.push({ ...d, digest: definitionDigest(d) });
    }
  }
  return { desired, notes };
}

function ranges<T>(rs: CalendarRange[], name: (n: number) => T): { start: T; end: T; step: number }[] {
  return rs.map((r) => ({ start: name(r.start), end: name(r.end), step: r.step }));
}

/** A parsed calendar as Temporal's structured calendar (dayOfWeek and month by name). */
export function calendarSpec(c: Calendar, comment?: string): CalendarSpec {
  const spec: CalendarSpec = { second: 0, minute: ranges(c.minute, (n) => n), hour: ranges(c.hour, (n) => n) };
  if (c.dayOfMonth) spec.dayOfMonth = ranges(c.dayOfMonth, (n) => n);
  if (c.month) spec.month = ranges(c.month, (n) => MONTHS[n - 1]!);
  if (c.dayOfWeek) spec.dayOfWeek = ranges(c.dayOfWeek, (n) => DAYS_OF_WEEK[n]!);
  if (comment) spec.comment = comment;
  return spec;
}

const DAY_ABBR = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTH_ABBR = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function rangeText(rs: CalendarRange[], label: (n: number) => string): string {
  return rs
    .map((r) =>
      r.start === r.end ? label(r.start) : `${label(r.start)}-${label(r.end)}${r.step > 1 ? `/${r.step}` : ''}`,
    )
    .join(',');
}

/** "05:00 Sun, days 1-7" — for listings and the UI's calendar comment. */
export function describeCalendar(c: Calendar): string {
  const single = (rs: CalendarRange[]) => rs.length === 1 && rs[0]!.start === rs[0]!.end;
  const pad = (n: number) => String(n).padStart(2, '0');
  const time =
    single(c.hour) && single(c.minute)
      ? `${pad(c.hour[0]!.start)}:${pad(c.minute[0]!.start)}`
      : `hour ${rangeText(c.hour, String)}, minute ${rangeText(c.minute, pad)}`;
  const parts = [time];
  const allDays =
    !c.dayOfWeek ||
    (c.dayOfWeek.length === 1 &&
      c.dayOfWeek[0]!.start === 0 &&
      c.dayOfWeek[0]!.end === 6 &&
      c.dayOfWeek[0]!.step === 1);
  if (!allDays) parts.push(rangeText(c.dayOfWeek!, (n) => DAY_ABBR[n]!));
  if (c.dayOfMonth) parts.push(`days ${rangeText(c.dayOfMonth, String)}`);
  if (c.month) parts.push(rangeText(c.month, (n) => MONTH_ABBR[n - 1]!));
  if (parts.length === 1) parts.push('daily');
  return parts.join(' ');
}

/** The SDK's options for creating (or, without scheduleId and memo, updating) the schedule. */
export function scheduleOptions(d: DesiredSchedule): ScheduleOptions {
  const memo: ManagedMemo = { managedBy: 'osbackup', cloud: d.cloud, entry: d.entry };
  return {
    scheduleId: d.scheduleId,
    spec: {
      calendars: [calendarSpec(d.calendar, `osbackup ${ENTRY_IDS[d.entry]}: ${describeCalendar(d.calendar)}`)],
      timezone: d.timeZone,
    },
    action: {
      type: 'startWorkflow',
      workflowType: d.workflowType,
      args: d.args,
      taskQueue: d.taskQueue,
      workflowId: d.workflowId,
      typedSearchAttributes: [
        { key: CLOUD, value: d.searchAttributes.Cloud },
        { key: TIER, value: d.searchAttributes.Tier },
      ],
      memo: { osbackupSchedule: { scheduleId: d.scheduleId, digest: d.digest } },
    },
    policies: { overlap: d.overlap, catchupWindow: d.catchupWindowMs, pauseOnFailure: d.pauseOnFailure },
    memo: { osbackup: memo },
    // the schedule itself is filed under the cloud too, so the UI's schedule list filters by it
    typedSearchAttributes: [
      { key: CLOUD, value: d.searchAttributes.Cloud },
      { key: TIER, value: d.searchAttributes.Tier },
    ],
  };
}

/** What the server holds, reduced to what planning needs. */
export interface ExistingSchedule {
  scheduleId: string;
  /** Present only when osbackup created it. */
  managed?: ManagedMemo;
  digest?: string;
  /** The definition as the server has it, when described (to catch edits made by hand in the UI). */
  actual?: ActualDefinition;
  /** The key id of each payload the schedule stores (memo, action arguments, action memo); null: in clear. */
  keyIds?: (string | null)[];
}

export interface ActualDefinition {
  timeZone: string;
  calendars: Calendar[];
  /** Intervals, cron strings or skip rules: osbackup never sets them. */
  otherTimes: boolean;
  overlap?: string;
  catchupWindowMs: number;
  pauseOnFailure: boolean;
  workflowType: string;
  taskQueue?: string;
  workflowId?: string;
  args: readonly unknown[];
  searchAttributes: { Cloud?: unknown; Tier?: unknown };
}

type RangeOf<T> = { start: T; end: T; step: number };
type RawPayload = { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null };
type RawFields = { fields?: Record<string, RawPayload> | null } | null;
/** The parts of the SDK's ScheduleDescription read here. */
export interface DescriptionView {
  scheduleId: string;
  memo?: Record<string, unknown>;
  spec?: {
    timezone?: string;
    calendars?: {
      minute: RangeOf<number>[];
      hour: RangeOf<number>[];
      second: RangeOf<number>[];
      dayOfMonth: RangeOf<number>[];
      month: RangeOf<string>[];
      year: RangeOf<number>[];
      dayOfWeek: RangeOf<string>[];
    }[];
    intervals?: unknown[];
    skip?: unknown[];
    cronExpressions?: unknown[];
  };
  policies?: { overlap?: string; catchupWindow: number; pauseOnFailure: boolean };
  action?: {
    memo?: Record<string, unknown>;
    workflowType?: string;
    taskQueue?: string;
    workflowId?: string;
    args?: readonly unknown[];
    searchAttributes?: Record<string, unknown>;
  };
  /** The server's description as stored: its payloads still encrypted. */
  raw?: {
    memo?: RawFields;
    schedule?: {
      action?: {
        startWorkflow?: {
          input?: { payloads?: RawPayload[] | null } | null;
          memo?: RawFields;
          header?: RawFields;
        } | null;
      } | null;
    } | null;
  };
}

/** Full ranges ("every day") and an absent field mean the same: compare without them. */
function withoutFullRanges(c: Calendar): Calendar {
  const full = (rs: CalendarRange[] | undefined, min: number, max: number) =>
    !rs || rs.some((r) => r.start <= min && r.end >= max && r.step === 1);
  const out: Calendar = { minute: c.minute, hour: c.hour };
  if (!full(c.dayOfMonth, 1, 31)) out.dayOfMonth = c.dayOfMonth;
  if (!full(c.month, 1, 12)) out.month = c.month;
  if (!full(c.dayOfWeek, 0, 6)) out.dayOfWeek = c.dayOfWeek;
  return out;
}

function actualFrom(s: DescriptionView): ActualDefinition | undefined {
  if (!s.spec || !s.policies || !s.action?.workflowType) return undefined;
  const nums = (rs: RangeOf<number>[]) => rs.map((r) => ({ start: r.start, end: r.end, step: r.step }));
  const named = (rs: RangeOf<string>[], names: readonly string[], first: number) =>
    rs.map((r) => ({ start: names.indexOf(r.start) + first, end: names.indexOf(r.end) + first, step: r.step }));
  const cal = s.spec.calendars ?? [];
  // seconds other than 0 or a year restriction are not something osbackup writes
  const odd = cal.some(
    (c) => c.year.length > 0 || canonical(nums(c.second)) !== canonical([{ start: 0, end: 0, step: 1 }]),
  );
  const sa = s.action.searchAttributes ?? {};
  const one = (v: unknown) => (Array.isArray(v) && v.length === 1 ? v[0] : v);
  return {
    timeZone: s.spec.timezone || 'UTC',
    calendars: cal.map((c) => ({
      minute: nums(c.minute),
      hour: nums(c.hour),
      dayOfMonth: nums(c.dayOfMonth),
      month: named(c.month, MONTHS, 1),
      dayOfWeek: named(c.dayOfWeek, DAYS_OF_WEEK, 0),
    })),
    otherTimes: odd || !!(s.spec.intervals?.length || s.spec.skip?.length || s.spec.cronExpressions?.length),
    overlap: s.policies.overlap,
    catchupWindowMs: s.policies.catchupWindow,
    pauseOnFailure: s.policies.pauseOnFailure,
    workflowType: s.action.workflowType,
    taskQueue: s.action.taskQueue,
    workflowId: s.action.workflowId,
    args: s.action.args ?? [],
    searchAttributes: { Cloud: one(sa.Cloud), Tier: one(sa.Tier) },
  };
}

/** The key id of every payload a schedule stores, as the server keeps them (null: in clear). */
export function storedKeyIds(raw: NonNullable<DescriptionView['raw']>): (string | null)[] {
  const w = raw.schedule?.action?.startWorkflow;
  const payloads = [
    ...Object.values(raw.memo?.fields ?? {}),
    ...(w?.input?.payloads ?? []),
    ...Object.values(w?.memo?.fields ?? {}),
    ...Object.values(w?.header?.fields ?? {}),
  ];
  return payloads.map((p) => payloadKeyId(p as Payload));
}

/** Reads the osbackup marker, the digest and (from a full description) the actual definition. */
export function existingFrom(s: DescriptionView): ExistingSchedule {
  const m = s.memo?.osbackup as Partial<ManagedMemo> | undefined;
  const managed =
    m &&
    m.managedBy === 'osbackup' &&
    typeof m.cloud === 'string' &&
    typeof m.entry === 'string' &&
    (ENTRY_NAMES as string[]).includes(m.entry)
      ? { managedBy: 'osbackup' as const, cloud: m.cloud, entry: m.entry }
      : undefined;
  const a = s.action?.memo?.osbackupSchedule as { digest?: unknown } | undefined;
  const out: ExistingSchedule = {
    scheduleId: s.scheduleId,
    managed,
    digest: typeof a?.digest === 'string' ? a.digest : undefined,
  };
  const actual = actualFrom(s);
  if (actual) out.actual = actual;
  if (s.raw) out.keyIds = storedKeyIds(s.raw);
  return out;
}

/** The keys a schedule's stored payloads are under, other than the current one ("in clear" for unencrypted ones). */
export function staleKeys(e: ExistingSchedule, currentKeyId: string | null): string[] {
  if (currentKeyId === null || !e.keyIds) return [];
  return [...new Set(e.keyIds.filter((k) => k !== currentKeyId).map((k) => k ?? 'in clear'))].sort();
}

/** The fields in which the server's definition differs from the desired one (empty: equal). */
export function driftOf(d: DesiredSchedule, a: ActualDefinition): string[] {
  const out: string[] = [];
  const differs = (x: unknown, y: unknown) => canonical(x) !== canonical(y);
  if (a.timeZone !== d.timeZone) out.push('timeZone');
  if (
    a.otherTimes ||
    a.calendars.length !== 1 ||
    differs(withoutFullRanges(a.calendars[0]!), withoutFullRanges(d.calendar))
  )
    out.push('calendar');
  if (a.overlap !== d.overlap) out.push('overlap');
  if (a.catchupWindowMs !== d.catchupWindowMs) out.push('catchupWindow');
  if (a.pauseOnFailure !== d.pauseOnFailure) out.push('pauseOnFailure');
  if (a.workflowType !== d.workflowType) out.push('workflowType');
  if (a.taskQueue !== d.taskQueue) out.push('taskQueue');
  if (a.workflowId !== d.workflowId) out.push('workflowId');
  if (differs(a.args, d.args)) out.push('args');
  if (differs(a.searchAttributes, d.searchAttributes)) out.push('searchAttributes');
  return out;
}

export interface SchedulePlan {
  create: DesiredSchedule[];
  update: DesiredSchedule[];
  unchanged: DesiredSchedule[];
  /** osbackup's schedules of the clouds in scope that the config no longer asks for. */
  delete: ExistingSchedule[];
  /** A desired id held by a schedule osbackup did not create (or made for another entry): left alone, reported. */
  conflicts: { scheduleId: string; reason: string }[];
  /** osbackup's schedules of clouds outside the scope (e.g. not in this config): left alone, reported. */
  otherClouds: ExistingSchedule[];
  /** Updates of schedules whose digest matched but whose definition on the server did not (edited by hand). */
  drift: { scheduleId: string; fields: string[] }[];
  /**
   * Schedules whose stored payloads are under a key other than the current one (or in clear):
   * recreated, because Temporal cannot update a schedule's memo, and the memo is encrypted too.
   */
  rekey: DesiredSchedule[];
  /** For each one of rekey: the keys its payloads were under. */
  staleKeys: { scheduleId: string; keyIds: string[] }[];
}

/**
 * desired vs existing. `scope` is the clouds this apply speaks for: a schedule of another cloud
 * may belong to another osbackup config sharing the namespace, so it is never deleted here.
 * A schedule whose digest matches is still updated when its definition on the server differs
 * (edited by hand in the UI); `force` rewrites every one. One whose stored payloads are under
 * another key than `currentKeyId` (a rotated payload key) is recreated, whatever its digest.
 */
export function planSchedules(
  desired: DesiredSchedule[],
  existing: ExistingSchedule[],
  scope: string[],
  force = false,
  currentKeyId: string | null = null,
): SchedulePlan {
  const plan: SchedulePlan = {
    create: [],
    update: [],
    unchanged: [],
    delete: [],
    conflicts: [],
    otherClouds: [],
    drift: [],
    rekey: [],
    staleKeys: [],
  };
  const byId = new Map(existing.map((e) => [e.scheduleId, e]));
  const wanted = new Set(desired.map((d) => d.scheduleId));
  for (const d of desired) {
    const e = byId.get(d.scheduleId);
    if (!e) plan.create.push(d);
    else if (!e.managed)
      plan.conflicts.push({
        scheduleId: d.scheduleId,
        reason:
          'exists but was not created by osbackup (no osbackup memo): left alone; delete or rename it, then apply again',
      });
    else if (e.managed.cloud !== d.cloud || e.managed.entry !== d.entry)
      plan.conflicts.push({
        scheduleId: d.scheduleId,
        reason: `is osbackup's schedule of cloud ${e.managed.cloud}, entry ${ENTRY_IDS[e.managed.entry]} (cloud and entry names run together in the id): left alone`,
      });
    else if (staleKeys(e, currentKeyId).length) {
      plan.rekey.push(d);
      plan.staleKeys.push({ scheduleId: d.scheduleId, keyIds: staleKeys(e, currentKeyId) });
    } else if (force || e.digest !== d.digest) plan.update.push(d);
    else {
      const fields = e.actual ? driftOf(d, e.actual) : [];
      if (fields.length) {
        plan.update.push(d);
        plan.drift.push({ scheduleId: d.scheduleId, fields });
      } else plan.unchanged.push(d);
    }
  }
  for (const e of existing) {
    if (!e.managed || wanted.has(e.scheduleId)) continue;
    if (scope.includes(e.managed.cloud)) plan.delete.push(e);
    else plan.otherClouds.push(e);
  }
  for (const k of ['create', 'update', 'unchanged', 'rekey'] as const)
    plan[k].sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
  plan.delete.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
  return plan;
}

// ---- daylight saving time: Temporal matches wall-clock times literally, so a run in the hour
// the clocks skip never happens, and one in the hour they repeat happens once or twice (the
// SDK documents twice; the 1.32 dev server, measured by the integration test, runs only the second).

// a formatter costs far more to build than to use, and a year is scanned in steps
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Milliseconds the zone's clocks are ahead of UTC at instant `at`. */
function zoneOffsetMs(zone: string, at: number): number {
  let f = formatters.get(zone);
  if (!f)
    formatters.set(
      zone,
      (f = new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      })),
    );
  const p = Object.fromEntries(f.formatToParts(new Date(at)).map((x) => [x.type, Number(x.value)]));
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - Math.floor(at / 1000) * 1000;
}

export interface ClockChange {
  /** Local date of the change, YYYY-MM-DD. */
  date: string;
  /** Day of the week of that date (0 = Sunday), day of the month, month (1-12). */
  dayOfWeek: number;
  dayOfMonth: number;
  month: number;
  /** Local minutes of the day [from, to) that do not exist (forward) or happen twice (back). */
  from: number;
  to: number;
  kind: 'skipped' | 'repeated';
}

/** The zone's clock changes in [fromMs, fromMs + days). */
export function clockChanges(zone: string, fromMs: number, days = 366): ClockChange[] {
  const out: ClockChange[] = [];
  // clocks change at most a few times a year, never twice within 6 hours
  const STEP = 6 * 3_600_000;
  let t = Math.floor(fromMs / STEP) * STEP;
  let off = zoneOffsetMs(zone, t);
  for (const end = fromMs + days * 86_400_000; t < end; t += STEP) {
    const next = zoneOffsetMs(zone, t + STEP);
    if (next === off) continue;
    // the change is within (t, t + STEP]: find its minute
    let lo = t;
    let hi = t + STEP;
    while (hi - lo > 60_000) {
      const mid = lo + Math.floor((hi - lo) / 120_000) * 60_000;
      if (zoneOffsetMs(zone, mid) === off) lo = mid;
      else hi = mid;
    }
    const localBefore = new Date(hi + off); // the wall clock's reading as the change happens, in the old offset
    const minute = localBefore.getUTCHours() * 60 + localBefore.getUTCMinutes();
    const delta = (next - off) / 60_000;
    out.push({
      date: localBefore.toISOString().slice(0, 10),
      dayOfWeek: localBefore.getUTCDay(),
      dayOfMonth: localBefore.getUTCDate(),
      month: localBefore.getUTCMonth() + 1,
      ...(delta > 0
        ? { from: minute, to: minute + delta, kind: 'skipped' as const }
        : { from: minute + delta, to: minute, kind: 'repeated' as const }),
    });
    off = next;
  }
  return out;
}

const inRanges = (v: number, rs: CalendarRange[] | undefined) =>
  !rs || rs.some((r) => v >= r.start && v <= r.end && (v - r.start) % r.step === 0);

/** Notes for runs a clock change skips or doubles within a year of `fromMs`. */
export function clockChangeNotes(desired: DesiredSchedule[], fromMs: number): string[] {
  const notes: string[] = [];
  const byZone = new Map<string, ClockChange[]>();
  for (const d of desired) {
    if (!byZone.has(d.timeZone)) byZone.set(d.timeZone, clockChanges(d.timeZone, fromMs));
    for (const c of byZone.get(d.timeZone)!) {
      const cal = d.calendar;
      if (
        !inRanges(c.dayOfWeek, cal.dayOfWeek) ||
        !inRanges(c.dayOfMonth, cal.dayOfMonth) ||
        !inRanges(c.month, cal.month)
      )
        continue;
      const hit: string[] = [];
      for (let m = c.from; m < c.to; m++)
        if (inRanges(Math.floor(m / 60), cal.hour) && inRanges(m % 60, cal.minute))
          hit.push(`${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`);
      if (!hit.length) continue;
      notes.push(
        c.kind === 'skipped'
          ? `${d.scheduleId}: ${hit.join(', ')} does not exist in ${d.timeZone} on ${c.date} (clocks go forward): that run will not happen. Use a time outside the change, or UTC`
          : `${d.scheduleId}: ${hit.join(', ')} happens twice in ${d.timeZone} on ${c.date} (clocks go back): which of the two runs depends on the Temporal server (1.32 runs only the second; the SDK documents both). Use a time outside the change, or UTC`,
      );
    }
  }
  return notes;
}
