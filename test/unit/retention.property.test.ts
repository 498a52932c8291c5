// Property test of the retention planner over random backup calendars and policies. The
// reference functions here are written independently of the planner (other week formula,
// toLocaleDateString for zones, brute force over instants), so agreement means something.
import fc from 'fast-check';
import { calendarBuckets, planRetention, recheck } from '../../core/retention/plan.js';
import type {
  BinlogArtifact,
  ControlPlaneArtifact,
  ControlPlaneKind,
  DbArtifact,
  DumpArtifact,
  RetentionArtifact,
  RetentionPlan,
} from '../../core/retention/plan.js';
import { retentionPolicySchema } from '../../core/retention/policy.js';
import type { RetentionPolicy } from '../../core/retention/policy.js';

const MIN = 60_000;
const DAY = 1440 * MIN;
const RUNS = 10_000;

// ---- random calendars --------------------------------------------------------------------

const stepArb = fc.record({
  gapMin: fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 10, max: 1440 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1440, max: 12 * 1440 }) },
  ),
  kind: fc.constantFrom('full', 'incremental', 'incremental', 'incremental', 'config', 'fernet', 'rabbitmq', 'dump'),
  parentBack: fc.oneof(
    { weight: 5, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }) },
  ),
  link: fc.constantFrom('none', 'none', 'restorePoint', 'runId'),
  // 1 in 25: the artifact is lost afterwards (orphans); 1 in 50: its LSN does not follow its parent
  lost: fc.integer({ min: 0, max: 24 }).map((n) => n === 0),
  badLsn: fc.integer({ min: 0, max: 49 }).map((n) => n === 0),
  noBinlogPosition: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
});

const calendarArb = fc.record({
  startMs: fc
    .integer({ min: Date.parse('2024-10-01T00:00:00Z') / MIN, max: Date.parse('2026-06-01T00:00:00Z') / MIN })
    .map((m) => m * MIN),
  steps: fc.array(stepArb, { maxLength: 40 }),
  binlog: fc.option(
    fc.record({
      fileMin: fc.integer({ min: 60, max: 2 * 1440 }),
      leadMin: fc.integer({ min: 0, max: 3 * 1440 }),
      tailMin: fc.integer({ min: -1440, max: 1440 }),
      // pieces lost: with several segments per file, a lost one is a hole inside a file
      lostFiles: fc.array(fc.nat({ max: 80 }), { maxLength: 2 }),
      segmentsPerFile: fc.constantFrom(1, 1, 2, 3),
      quietPercent: fc.integer({ min: 0, max: 60 }),
    }),
    { nil: undefined },
  ),
  nowAfterMin: fc.integer({ min: 0, max: 5 * 1440 }),
});

const countOrDuration = fc.oneof(
  fc.integer({ min: 0, max: 12 }),
  fc.integer({ min: 1, max: 60 }).map((n) => `${n}d`),
  fc.integer({ min: 1, max: 30 }).map((n) => `${n}w`),
);
const policyArb = fc
  .record({
    keepLast: fc.integer({ min: 0, max: 3 }),
    daily: countOrDuration,
    weekly: countOrDuration,
    monthly: countOrDuration,
    pointInTimeWindow: fc.option(
      fc.oneof(
        fc.integer({ min: 1, max: 96 }).map((n) => `${n}h`),
        fc.integer({ min: 1, max: 20 }).map((n) => `${n}d`),
      ),
      { nil: undefined },
    ),
    timeZone: fc.constantFrom(
      'UTC',
      '+05:30',
      '-08:00',
      '+13:45',
      'Europe/Berlin',
      'America/New_York',
      'Australia/Lord_Howe',
      'Asia/Kathmandu',
    ),
    controlPlaneMaxAge: fc.constantFrom('24h', '6h', '3d'),
  })
  .map((p) => retentionPolicySchema.parse(p));

type Calendar = typeof calendarArb extends fc.Arbitrary<infer T> ? T : never;

/** Position of each binlog segment in the archive as generated (lost ones included): replays read them in this order. */
const ordinals = new Map<string, number>();
let piecesPerFile = 1;

function build(cal: Calendar): { artifacts: RetentionArtifact[]; now: Date } {
  ordinals.clear();
  const iso = (ms: number) => new Date(ms).toISOString();
  let t = cal.startMs;
  const db: DbArtifact[] = [];
  const out: { a: RetentionArtifact; lost: boolean }[] = [];
  const dbTimes: { a: DbArtifact; ms: number; noPos: boolean }[] = [];
  let lsn = 0;
  cal.steps.forEach((s, i) => {
    t += s.gapMin * MIN;
    if (s.kind === 'full' || s.kind === 'incremental') {
      const parent = db[Math.max(0, db.length - 1 - s.parentBack)];
      lsn += 10;
      const a: DbArtifact =
        s.kind === 'full' || !parent
          ? {
              id: `db-${i}`,
              kind: s.kind === 'full' ? 'full' : 'incremental',
              parentId: s.kind === 'full' ? null : 'never-taken',
              takenAt: iso(t),
              fromLsn: '0',
              toLsn: String(lsn),
              runId: `run-${i}`,
            }
          : {
              id: `db-${i}`,
              kind: 'incremental',
              parentId: parent.id,
              takenAt: iso(t),
              fromLsn: s.badLsn ? 'x' : parent.toLsn!,
              toLsn: String(lsn),
              runId: `run-${i}`,
            };
      db.push(a);
      dbTimes.push({ a, ms: t, noPos: s.noBinlogPosition });
      out.push({ a, lost: s.lost });
    } else if (s.kind === 'dump') {
      const a: DumpArtifact = { id: `dump-${i}`, kind: 'dump', takenAt: iso(t) };
      out.push({ a, lost: s.lost });
    } else {
      const last = db.at(-1);
      const a: ControlPlaneArtifact = { id: `${s.kind}-${i}`, kind: s.kind as ControlPlaneKind, takenAt: iso(t) };
      if (last && s.link === 'restorePoint') a.restorePoint = last.id;
      if (last && s.link === 'runId') a.runId = last.runId!;
      out.push({ a, lost: s.lost });
    }
  });
  if (cal.binlog) {
    const b = cal.binlog;
    const len = Math.max(b.fileMin * MIN, Math.ceil((t - cal.startMs + (b.leadMin + 1440) * MIN) / 80 / MIN) * MIN); // at most ~80 files
    const origin = cal.startMs - b.leadMin * MIN;
    const end = t + b.tailMin * MIN;
    for (let i = 0; origin + i * len < end; i++) {
      const start = origin + i * len;
      // A quiet server writes its first event a while after the file was opened.
      const first = start + Math.floor((len * (((i * 37) % 100) * b.quietPercent)) / 10_000 / 1000) * 1000;
      // a file archived as k byte ranges, the events spread over them in order
      const k = (piecesPerFile = b.segmentsPerFile);
      const part = Math.floor(len / k / 1000) * 1000;
      for (let j = 0; j < k; j++) {
        const pEnd = j === k - 1 ? start + len - 1000 : start + (j + 1) * part - 1000;
        const pFirst = Math.min(Math.max(start + j * part, first), pEnd);
        const id = k === 1 ? `binlog-${i + 1}` : `binlog-${i + 1}-${j}`;
        const piece: BinlogArtifact = {
          id,
          kind: 'binlog',
          sequence: i + 1,
          firstEventAt: iso(pFirst),
          lastEventAt: iso(pEnd),
          ...(k > 1
            ? {
                startPosition: j * 100,
                endPosition: (j + 1) * 100,
                ...(j === 0 && i > 0 ? { previousEnd: k * 100 } : {}),
              }
            : {}),
        };
        ordinals.set(id, i * k + j);
        out.push({ a: piece, lost: b.lostFiles.includes(i * k + j) });
      }
    }
    for (const d of dbTimes) if (!d.noPos && d.ms >= origin) d.a.binlogSequence = Math.floor((d.ms - origin) / len) + 1;
  }
  return { artifacts: out.filter((o) => !o.lost).map((o) => o.a), now: new Date(t + cal.nowAfterMin * MIN) };
}

// ---- the reference -------------------------------------------------------------------------

const isDb = (a: RetentionArtifact): a is DbArtifact => a.kind === 'full' || a.kind === 'incremental';

/** Chain of `id` using only `set`, or null. */
function refChain(set: Map<string, RetentionArtifact>, id: string): string[] | null {
  const chain: string[] = [];
  for (let a = set.get(id); a && isDb(a); a = a.parentId ? set.get(a.parentId) : undefined) {
    if (chain.includes(a.id)) return null;
    chain.push(a.id);
    if (a.kind === 'full') return chain;
    const p = a.parentId ? set.get(a.parentId) : undefined;
    if (p && isDb(p) && a.fromLsn !== undefined && p.toLsn !== undefined && a.fromLsn !== p.toLsn) return null;
  }
  return null;
}

const dayFormats = new Map<string, Intl.DateTimeFormat>();
function refDay(ms: number, zone: string): string {
  const off = /^([+-])(\d\d):(\d\d)$/.exec(zone);
  if (off)
    return new Date(ms + (off[1] === '-' ? -1 : 1) * (Number(off[2]) * 60 + Number(off[3])) * MIN)
      .toISOString()
      .slice(0, 10);
  let f = dayFormats.get(zone);
  if (!f)
    dayFormats.set(
      zone,
      (f = new Intl.DateTimeFormat('sv-SE', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' })),
    );
  return f.format(ms); // Swedish dates read 2026-01-31
}

function refWeek(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  const thursday = new Date(d.getTime() + (4 - (d.getUTCDay() || 7)) * DAY);
  const year = thursday.getUTCFullYear();
  const week = Math.ceil(((thursday.getTime() - Date.UTC(year, 0, 1)) / DAY + 1) / 7);
  return `${year}-W${String(week).padStart(2, '0')}`;
}

const durationMs = (s: string) =>
  Number(s.slice(0, -1)) * (s.endsWith('h') ? 3_600_000 : s.endsWith('w') ? 7 * DAY : DAY);

/** The restore points the policy promises, by the plain reading of the policy. */
function promisedPoints(artifacts: RetentionArtifact[], policy: RetentionPolicy, now: Date): Set<string> {
  const all = new Map(artifacts.map((a) => [a.id, a]));
  return promisedOf(
    artifacts.filter(isDb).filter((a) => refChain(all, a.id)),
    policy,
    now,
  );
}

/** Dumps are a series of their own: the same promises, among dumps only. */
function promisedDumps(artifacts: RetentionArtifact[], policy: RetentionPolicy, now: Date): Set<string> {
  return promisedOf(
    artifacts.filter((a): a is DumpArtifact => a.kind === 'dump'),
    policy,
    now,
  );
}

function promisedOf(series: { id: string; takenAt: string }[], policy: RetentionPolicy, now: Date): Set<string> {
  const points = series.map((a) => ({ id: a.id, ms: Date.parse(a.takenAt) })).sort((x, y) => y.ms - x.ms);
  const promised = new Set<string>(points.slice(0, Math.max(1, policy.keepLast)).map((p) => p.id));
  const tiers = [
    ['daily', (d: string) => d],
    ['weekly', refWeek],
    ['monthly', (d: string) => d.slice(0, 7)],
  ] as const;
  for (const [tier, key] of tiers) {
    const setting = policy[tier];
    const newestOf = new Map<string, { id: string; ms: number }>();
    for (const p of points) {
      const k = key(refDay(p.ms, policy.timeZone));
      if (!newestOf.has(k) || newestOf.get(k)!.ms < p.ms) newestOf.set(k, p);
    }
    const byNewest = [...newestOf.values()].sort((x, y) => y.ms - x.ms);
    const chosen =
      typeof setting === 'number'
        ? byNewest.slice(0, setting)
        : byNewest.filter((p) => now.getTime() - p.ms <= durationMs(setting));
    for (const p of chosen) promised.add(p.id);
  }
  return promised;
}

/**
 * Which instants can the database be brought to with only `set`? (Which binlog events exist
 * is a fact of `archive`.) A base recovers t when it is older than t, its chain is in `set`
 * and so is every binlog file from its position to the last file with an event at or before t.
 */
function recoverability(set: Map<string, RetentionArtifact>, archive: BinlogArtifact[]): (t: number) => boolean {
  // pieces by their place in the generated archive: a replay from a base needs every one from
  // the first piece of the base's file to the last piece with an event at or before t
  const pieces = new Set(
    [...set.values()].filter((a): a is BinlogArtifact => a.kind === 'binlog').map((a) => ordinals.get(a.id)!),
  );
  const bases = [...set.values()]
    .filter((a): a is DbArtifact => isDb(a) && a.binlogSequence !== undefined && refChain(set, a.id) !== null)
    .map((a) => {
      let contiguousTo = (a.binlogSequence! - 1) * piecesPerFile - 1;
      while (pieces.has(contiguousTo + 1)) contiguousTo++;
      return { ms: Date.parse(a.takenAt), contiguousTo };
    });
  const firsts = archive.map((f) => ({ at: Date.parse(f.firstEventAt), ord: ordinals.get(f.id)! }));
  return (t) => {
    let last = -Infinity;
    for (const f of firsts) if (f.at <= t && f.ord > last) last = f.ord;
    return bases.some((b) => b.ms <= t && last <= b.contiguousTo);
  };
}

// ---- the properties -------------------------------------------------------------------------

/** A plain assertion: jest's expect is too slow for the inner loops of 10,000 runs. */
function must(ok: boolean, message: () => string): void {
  if (!ok) throw new Error(message());
}

function check(artifacts: RetentionArtifact[], policy: RetentionPolicy, now: Date, plan: RetentionPlan): void {
  const all = new Map(artifacts.map((a) => [a.id, a]));
  const keepIds = plan.keep.map((k) => k.id);
  const removeIds = new Set(plan.remove.map((r) => r.id));
  const kept = new Map(keepIds.map((id) => [id, all.get(id)!]));
  const retained = new Set(plan.retained);

  // (3) keep ∪ remove = input, disjoint, and every decision says why
  must(kept.size === keepIds.length && removeIds.size === plan.remove.length, () => 'an id is decided twice');
  must(
    kept.size + removeIds.size === all.size && [...all.keys()].every((id) => kept.has(id) !== removeIds.has(id)),
    () => 'keep and remove do not partition the input',
  );
  for (const k of plan.keep)
    must(k.reasons.length > 0 && k.reasons.every((r) => r.length > 0), () => `${k.id} is kept without a reason`);
  for (const r of plan.remove) must(r.reason.length > 0, () => `${r.id} is removed without a reason`);

  // (1) every retained restore point is whole from the keep set alone
  for (const id of retained) {
    const a = kept.get(id);
    must(a !== undefined, () => `${id} is retained but not kept`);
    if (a && isDb(a))
      must(refChain(kept, id) !== null, () => `retained ${id} has no complete chain among the kept artifacts`);
  }
  // …and retained means every kept artifact except orphans
  for (const id of keepIds)
    if (!retained.has(id))
      must(isDb(all.get(id)!) && refChain(all, id) === null, () => `${id} is kept but not retained, yet not an orphan`);

  // (2) the promised points, what is newer than the newest full, and the control plane they promise
  const promised = promisedPoints(artifacts, policy, now);
  for (const id of promised)
    must(
      kept.has(id),
      () => `promised restore point ${id} is removed: ${plan.remove.find((r) => r.id === id)?.reason}`,
    );
  for (const id of promisedDumps(artifacts, policy, now))
    must(kept.has(id), () => `promised dump ${id} is removed: ${plan.remove.find((r) => r.id === id)?.reason}`);
  const newestFull = Math.max(
    -Infinity,
    ...artifacts.filter((a) => a.kind === 'full').map((a) => Date.parse((a as DbArtifact).takenAt)),
  );
  for (const a of artifacts)
    if (isDb(a) && Date.parse(a.takenAt) >= newestFull)
      must(kept.has(a.id), () => `${a.id} is not older than the newest full but removed`);
  const cps = artifacts.filter(
    (a): a is ControlPlaneArtifact => a.kind === 'config' || a.kind === 'fernet' || a.kind === 'rabbitmq',
  );
  for (const kind of ['config', 'fernet', 'rabbitmq'] as const) {
    const ofKind = cps.filter((c) => c.kind === kind);
    const newestTime = Math.max(-Infinity, ...ofKind.map((c) => Date.parse(c.takenAt)));
    for (const c of ofKind)
      if (Date.parse(c.takenAt) === newestTime) must(kept.has(c.id), () => `newest ${kind} ${c.id} is removed`);
    for (const id of promised) {
      const p = all.get(id) as DbArtifact;
      const linked = ofKind.filter((c) => c.restorePoint === id || (c.runId !== undefined && c.runId === p.runId));
      for (const c of linked) must(kept.has(c.id), () => `${c.id}, linked to promised ${id}, is removed`);
      const pm = Date.parse(p.takenAt);
      const window = ofKind.filter(
        (c) =>
          !c.restorePoint &&
          !c.runId &&
          Date.parse(c.takenAt) <= pm &&
          pm - Date.parse(c.takenAt) <= durationMs(policy.controlPlaneMaxAge),
      );
      if (linked.length === 0 && window.length > 0)
        must(
          window.some((c) => kept.has(c.id)),
          () => `no ${kind} of promised ${id} is kept`,
        );
    }
  }

  // (4) the second phase finds nothing broken when exactly the plan's removals go
  const broken = recheck(
    plan.retained,
    artifacts.filter((a) => !removeIds.has(a.id)),
  );
  must(broken.length === 0, () => `recheck: ${JSON.stringify(broken)}`);

  // (5) every second of the window that the archive can recover stays recoverable; the rest is reported
  const archive = artifacts.filter((a): a is BinlogArtifact => a.kind === 'binlog');
  if (policy.pointInTimeWindow && archive.length > 0) {
    const from = now.getTime() - durationMs(policy.pointInTimeWindow);
    const to = Math.max(...archive.map((f) => Date.parse(f.lastEventAt)));
    // Recoverability changes only where a file's first event or a restore point lies: checking
    // those instants (and the second before each) checks every second of the window.
    const instants = new Set([from, to]);
    for (const f of archive) instants.add(Date.parse(f.firstEventAt)).add(Date.parse(f.firstEventAt) - 1000);
    for (const a of artifacts) if (isDb(a)) instants.add(Date.parse(a.takenAt)).add(Date.parse(a.takenAt) - 1000);
    const fromTarget = recoverability(all, archive);
    const fromKept = recoverability(kept, archive);
    let gapInArchive = false;
    for (const t of instants) {
      if (t < from || t > to) continue;
      if (!fromTarget(t)) {
        gapInArchive = true;
        continue;
      }
      must(
        fromKept(t),
        () =>
          `instant ${new Date(t).toISOString()} of the window is recoverable from the target but not from the kept artifacts`,
      );
    }
    must(
      plan.problems.some((p) => p.kind === 'window-uncovered') === gapInArchive,
      () =>
        `window-uncovered reported: ${!gapInArchive}, but the archive ${gapInArchive ? 'has' : 'has no'} unrecoverable instants`,
    );
  }
}

test(`retention plans keep their promises over ${RUNS} random calendars and policies`, () => {
  const stats = { removed: 0, kept: 0, orphans: 0, windows: 0, uncovered: 0 };
  fc.assert(
    fc.property(calendarArb, policyArb, (cal, policy) => {
      const { artifacts, now } = build(cal);
      const plan = planRetention({ artifacts, policy, now });
      check(artifacts, policy, now, plan);
      stats.removed += plan.remove.length;
      stats.kept += plan.keep.length;
      stats.orphans += plan.problems.filter((p) => p.kind === 'incomplete-chain').length;
      if (policy.pointInTimeWindow && artifacts.some((a) => a.kind === 'binlog')) stats.windows++;
      stats.uncovered += plan.problems.some((p) => p.kind === 'window-uncovered') ? 1 : 0;
    }),
    { numRuns: RUNS },
  );
  // The generator must reach the interesting cases, or the properties prove little.
  expect(stats.removed).toBeGreaterThan(RUNS);
  expect(stats.orphans).toBeGreaterThan(RUNS / 20);
  expect(stats.windows).toBeGreaterThan(RUNS / 5);
  expect(stats.uncovered).toBeGreaterThan(RUNS / 100);
}, 60_000);

test('calendar buckets agree with the reference for any instant and zone', () => {
  const zones = [
    'UTC',
    '+05:30',
    '-08:00',
    '+13:45',
    '-12:00',
    'Europe/Berlin',
    'America/New_York',
    'Australia/Lord_Howe',
    'Asia/Kathmandu',
    'Pacific/Kiritimati',
  ];
  fc.assert(
    fc.property(
      fc.integer({ min: Date.parse('1999-12-01T00:00:00Z') / 1000, max: Date.parse('2040-01-31T00:00:00Z') / 1000 }),
      fc.constantFrom(...zones),
      (sec, zone) => {
        const day = refDay(sec * 1000, zone);
        const got = calendarBuckets(sec * 1000, zone);
        must(
          got.day === day && got.week === refWeek(day) && got.month === day.slice(0, 7),
          () =>
            `${new Date(sec * 1000).toISOString()} in ${zone}: ${JSON.stringify(got)}, expected ${day} ${refWeek(day)}`,
        );
      },
    ),
    { numRuns: RUNS },
  );
});
