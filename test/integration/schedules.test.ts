// Schedules against the real Temporal dev server (the time-skipping test server has no
// Schedules API). A cloud name of its own keeps these schedules apart from anyone else's; every
// schedule made here is deleted afterwards. No worker runs: a triggered workflow only has to
// start (the tier workflows may not exist on this branch), and is terminated afterwards.
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import type { Client, ScheduleDescription } from '@temporalio/client';
import type { TypedSearchAttributes } from '@temporalio/common';
import { loadConfig } from '../../config/load.js';
import { payloadCodecs } from '../../config/temporal.js';
import { desiredSchedules, scheduleOptions } from '../../client/lib/schedules.js';
import { CLOUD, TIER } from '../../workflows/search-attributes.js';
import { cli, deriveConfig, temporalClient } from '../helpers/lab.js';

const cloud = `sched${process.pid}`;
const otherCloud = `${cloud}other`;
const ZONE = 'Europe/Berlin';
const ids = ['daily', 'control-plane', 'weekly', 'monthly', 'rotate', 'verify'].map((e) => `osbackup-${cloud}-${e}`);
const rogueId = `osbackup-${cloud}-rogue`;
const otherId = `osbackup-${otherCloud}-daily`;

let configFile: string;
let client: Client;
let close: () => Promise<void>;
const startedWorkflows: string[] = [];

type Raw = Record<string, any>;
function editConfig(edit: (schedules: Raw) => void): void {
  const raw = parse(readFileSync(configFile, 'utf8')) as Raw;
  edit(raw.clouds[cloud].schedules);
  writeFileSync(configFile, stringify(raw));
}

async function osb(...args: string[]) {
  const r = await cli(configFile, ['--json', ...args]);
  if (r.exitCode !== 0) throw new Error(`osbackup ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const describe_ = (id: string) => client.schedule.getHandle(id).describe();

/** The definition's fingerprint on the server: the conflict token changes with every update. */
async function serverVersions(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const id of ids) {
    const d = await describe_(id);
    out[id] =
      `${Buffer.from(d.raw.conflictToken ?? []).toString('hex')} ${d.info.lastUpdatedAt?.toISOString() ?? 'never updated'}`;
  }
  return out;
}

// ---- expected run times, computed here from the calendar rules (not by osbackup's code) ----

/** Milliseconds the zone's wall clock is ahead of UTC at instant `at`. */
function zoneOffset(zone: string, at: number): number {
  const f = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  const p = Object.fromEntries(f.formatToParts(new Date(at)).map((x) => [x.type, Number(x.value)]));
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - at;
}

/** The instant at which the zone's clocks show y-m-d h:mi (times used here never fall in a DST gap). */
function wallClock(zone: string, y: number, m: number, d: number, h: number, mi: number): number {
  const local = Date.UTC(y, m - 1, d, h, mi);
  const first = local - zoneOffset(zone, local);
  return local - zoneOffset(zone, first);
}

/** The first `n` instants after `from` on local days matching `day`, at each local time of `times`. */
function expectedTimes(
  from: number,
  n: number,
  day: (d: { dow: number; dom: number }) => boolean,
  times: [number, number][],
): string[] {
  const out: number[] = [];
  const localNow = new Date(from + zoneOffset(ZONE, from));
  for (
    let t = Date.UTC(localNow.getUTCFullYear(), localNow.getUTCMonth(), localNow.getUTCDate()) - 86_400_000;
    out.length < n;
    t += 86_400_000
  ) {
    const d = new Date(t);
    if (!day({ dow: d.getUTCDay(), dom: d.getUTCDate() })) continue;
    for (const [h, mi] of times) {
      const at = wallClock(ZONE, d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), h, mi);
      if (at > from) out.push(at);
    }
  }
  return out.slice(0, n).map((x) => new Date(x).toISOString());
}

const range = <T>(start: T, end: T = start) => ({ start, end, step: 1 });
const EVERY_DAY = { dayOfMonth: [range(1, 31)], dayOfWeek: [range('SUNDAY', 'SATURDAY')] };

const expected: Record<
  string,
  {
    calendar: Record<string, unknown>;
    day: (d: { dow: number; dom: number }) => boolean;
    times: [number, number][];
    workflowType: string;
    args: Record<string, string>;
    tier: string;
    overlap: string;
    catchupWindow: number;
  }
> = {
  daily: {
    calendar: { hour: [range(2)], minute: [range(0)], ...EVERY_DAY },
    day: () => true,
    times: [[2, 0]],
    workflowType: 'tierWorkflow',
    args: { cloud, tier: 'daily' },
    tier: 'daily',
    overlap: 'BUFFER_ONE',
    catchupWindow: 3_600_000,
  },
  'control-plane': {
    calendar: { hour: [range(2)], minute: [range(30)], ...EVERY_DAY },
    day: () => true,
    times: [[2, 30]],
    workflowType: 'tierWorkflow',
    args: { cloud, tier: 'control-plane' },
    tier: 'control-plane',
    overlap: 'BUFFER_ONE',
    catchupWindow: 3_600_000,
  },
  // per-entry overrides in this config: SKIP and 30 minutes
  weekly: {
    calendar: { hour: [range(3)], minute: [range(0)], dayOfMonth: [range(1, 31)], dayOfWeek: [range('SUNDAY')] },
    day: (d) => d.dow === 0,
    times: [[3, 0]],
    workflowType: 'tierWorkflow',
    args: { cloud, tier: 'weekly' },
    tier: 'weekly',
    overlap: 'SKIP',
    catchupWindow: 1_800_000,
  },
  // the first Sunday: a Sunday AND one of the month's first seven days
  monthly: {
    calendar: { hour: [range(5)], minute: [range(0)], dayOfMonth: [range(1, 7)], dayOfWeek: [range('SUNDAY')] },
    day: (d) => d.dow === 0 && d.dom <= 7,
    times: [[5, 0]],
    workflowType: 'tierWorkflow',
    args: { cloud, tier: 'monthly' },
    tier: 'monthly',
    overlap: 'BUFFER_ONE',
    catchupWindow: 3_600_000,
  },
  rotate: {
    calendar: { hour: [range(5)], minute: [range(30)], ...EVERY_DAY },
    day: () => true,
    times: [[5, 30]],
    workflowType: 'retentionWorkflow',
    args: { cloud },
    tier: 'rotate',
    overlap: 'BUFFER_ONE',
    catchupWindow: 3_600_000,
  },
  // a calendar of this config: two hours, weekdays
  verify: {
    calendar: {
      hour: [range(4), range(16)],
      minute: [range(15)],
      dayOfMonth: [range(1, 31)],
      dayOfWeek: [range('MONDAY', 'FRIDAY')],
    },
    day: (d) => d.dow >= 1 && d.dow <= 5,
    times: [
      [4, 15],
      [16, 15],
    ],
    workflowType: 'verifyWorkflow',
    args: { cloud },
    tier: 'verify',
    overlap: 'BUFFER_ONE',
    catchupWindow: 3_600_000,
  },
};

beforeAll(async () => {
  configFile = deriveConfig('schedules', (c) => {
    const lab = c.clouds[c.defaultCloud ?? Object.keys(c.clouds)[0]!];
    c.clouds = {
      [cloud]: {
        ...lab,
        controlPlane: { keystoneHosts: [] },
        schedules: {
          timeZone: ZONE,
          entries: {
            weekly: { overlap: 'SKIP', catchupWindow: '30min' },
            verify: { calendar: { hour: [4, 16], minute: 15, dayOfWeek: 'mon-fri' } },
          },
        },
      },
    };
    c.defaultCloud = cloud;
  });
  ({ client, close } = await temporalClient(configFile));
});

afterAll(async () => {
  for (const id of [...ids, rogueId, otherId])
    await client.schedule
      .getHandle(id)
      .delete()
      .catch(() => undefined);
  for (const w of startedWorkflows)
    await client.workflow
      .getHandle(w)
      .terminate('schedules test cleanup')
      .catch(() => undefined);
  await close();
});

test("apply creates the schedules; calendars, time zone, policies, actions and the server's next run times match the config", async () => {
  const r = await osb('schedules', 'apply');
  expect(r.created.sort()).toEqual([...ids].sort());
  expect([r.updated, r.deleted, r.unchanged, r.conflicts]).toEqual([[], [], [], []]);
  const taskQueue = loadConfig(configFile).temporal.taskQueue;
  for (const [entry, want] of Object.entries(expected)) {
    const from = Date.now();
    const d = await describe_(`osbackup-${cloud}-${entry}`);
    expect(d.spec.timezone).toBe(ZONE);
    expect(d.spec.calendars).toHaveLength(1);
    expect(d.spec.calendars![0]).toMatchObject({ second: [range(0)], ...want.calendar });
    expect(d.policies).toEqual({ overlap: want.overlap, catchupWindow: want.catchupWindow, pauseOnFailure: false });
    expect(d.action).toMatchObject({
      type: 'startWorkflow',
      workflowType: want.workflowType,
      taskQueue,
      workflowId: `${cloud}-${entry}`,
      args: [want.args],
    });
    const sa = d.action.typedSearchAttributes as TypedSearchAttributes;
    expect(sa.get(CLOUD)).toBe(cloud);
    expect(sa.get(TIER)).toBe(want.tier);
    expect(d.memo).toEqual({
      osbackup: { managedBy: 'osbackup', cloud, entry: entry === 'control-plane' ? 'controlPlane' : entry },
    });
    expect(d.state.paused).toBe(false);
    const next = d.info.nextActionTimes.map((t) => t.toISOString());
    expect(next.length).toBeGreaterThanOrEqual(5);
    expect(next).toEqual(expectedTimes(from, next.length, want.day, want.times));
  }
  // the monthly list spans months on both sides of a DST change: Berlin's UTC offset differs
  const monthly = (await describe_(`osbackup-${cloud}-monthly`)).info.nextActionTimes;
  expect(new Set(monthly.map((t) => t.getUTCHours()))).toEqual(new Set([3, 4]));
});

test("the schedule's payloads go through the payload codec: encrypted on the server", async () => {
  const raw = (await describe_(`osbackup-${cloud}-weekly`)).raw as ScheduleDescription['raw'];
  const input = raw.schedule!.action!.startWorkflow!.input!.payloads![0]!;
  expect(Buffer.from(input.metadata!.encoding!).toString()).toBe('binary/encrypted');
  expect(Buffer.from(input.data!).toString('latin1')).not.toContain(cloud);
  const memo = raw.memo!.fields!.osbackup!;
  expect(Buffer.from(memo.metadata!.encoding!).toString()).toBe('binary/encrypted');
});

test("trigger starts the tier's workflow with its argument and search attributes", async () => {
  const r = await osb('schedules', 'trigger', 'weekly');
  startedWorkflows.push(r.workflowId);
  expect(r.workflowId).toMatch(new RegExp(`^${cloud}-weekly-\\d{4}-\\d\\d-\\d\\dT`));
  expect(r.ui).toContain(`/namespaces/osbackup/workflows/${encodeURIComponent(r.workflowId)}/${r.runId}`);
  const h = client.workflow.getHandle(r.workflowId);
  const d = await h.describe();
  expect(d.type).toBe('tierWorkflow');
  expect(d.runId).toBe(r.runId);
  expect(d.taskQueue).toBe(loadConfig(configFile).temporal.taskQueue);
  expect(d.typedSearchAttributes.get(CLOUD)).toBe(cloud);
  expect(d.typedSearchAttributes.get(TIER)).toBe('weekly');
  // the argument, read from the history and decrypted with the payload key
  const started = (await h.fetchHistory()).events![0]!.workflowExecutionStartedEventAttributes!;
  const [plain] = await payloadCodecs(loadConfig(configFile))[0]!.decode([started.input!.payloads![0]! as never]);
  expect(JSON.parse(Buffer.from(plain!.data!).toString())).toEqual({ cloud, tier: 'weekly' });
  // the schedule records it as its action
  const s = await describe_(`osbackup-${cloud}-weekly`);
  expect(s.info.recentActions.map((a) => a.action.workflow.workflowId)).toContain(r.workflowId);
});

test('apply twice changes nothing: everything unchanged, no update reaches the server', async () => {
  const before = await serverVersions();
  const r = await osb('schedules', 'apply');
  expect(r.unchanged.sort()).toEqual([...ids].sort());
  expect([r.created, r.updated, r.deleted]).toEqual([[], [], []]);
  expect(await serverVersions()).toEqual(before);
});

test('a hand edit on the server (digest untouched) is found and undone by the next apply', async () => {
  const id = `osbackup-${cloud}-control-plane`;
  await client.schedule.getHandle(id).update((prev) => ({
    ...prev,
    spec: { ...prev.spec, timezone: 'UTC' },
    policies: { ...prev.policies, overlap: 'ALLOW_ALL', catchupWindow: 60_000 },
    state: { paused: prev.state.paused },
  }));
  const edited = await describe_(id);
  expect([
    edited.spec.timezone,
    edited.policies.overlap,
    (edited.action.memo as Record<string, { digest?: string }>).osbackupSchedule?.digest,
  ]).toEqual(['UTC', 'ALLOW_ALL', expect.stringMatching(/^[0-9a-f]{64}$/)]);
  const r = await osb('schedules', 'apply');
  expect(r.updated).toEqual([id]);
  expect(r.drift).toEqual([{ scheduleId: id, fields: ['timeZone', 'overlap', 'catchupWindow'] }]);
  const d = await describe_(id);
  expect([d.spec.timezone, d.policies.overlap, d.policies.catchupWindow]).toEqual([ZONE, 'BUFFER_ONE', 3_600_000]);
  expect((await osb('schedules', 'apply')).unchanged).toContain(id);
});

test("a changed entry is updated alone (a dry run first changes nothing), and an operator's pause survives it", async () => {
  await osb('schedules', 'pause', 'daily', '--reason', 'storage maintenance');
  editConfig((s) => (s.entries.daily = { calendar: { hour: 1, minute: 10 } }));
  const before = await serverVersions();
  const dry = await osb('schedules', 'apply', '--dry-run');
  expect([dry.dryRun, dry.updated, dry.created, dry.deleted]).toEqual([true, [`osbackup-${cloud}-daily`], [], []]);
  expect(await serverVersions()).toEqual(before);

  const r = await osb('schedules', 'apply');
  expect(r.updated).toEqual([`osbackup-${cloud}-daily`]);
  expect(r.unchanged).toHaveLength(ids.length - 1);
  const after = await serverVersions();
  for (const id of ids)
    id.endsWith('-daily') ? expect(after[id]).not.toEqual(before[id]) : expect(after[id]).toEqual(before[id]);
  const from = Date.now();
  const d = await describe_(`osbackup-${cloud}-daily`);
  expect(d.state).toMatchObject({ paused: true, note: 'storage maintenance' });
  expect(d.info.nextActionTimes.map((t) => t.toISOString())).toEqual(
    expectedTimes(from, d.info.nextActionTimes.length, () => true, [[1, 10]]),
  );
  await osb('schedules', 'unpause', 'daily');
  expect((await describe_(`osbackup-${cloud}-daily`)).state.paused).toBe(false);
});

test("a disabled entry is deleted by the next apply; schedules osbackup did not make, and other clouds' ones, are left alone", async () => {
  const taskQueue = loadConfig(configFile).temporal.taskQueue;
  // a hand-made schedule under osbackup's prefix (no osbackup memo) and osbackup's schedule of a cloud not in this config
  await client.schedule.create({
    scheduleId: rogueId,
    spec: { intervals: [{ every: '1d' }] },
    action: { type: 'startWorkflow', workflowType: 'someoneElsesWorkflow', taskQueue, workflowId: `${cloud}-rogue` },
    state: { paused: true },
  });
  const mine = desiredSchedules(loadConfig(configFile)).desired.find((d) => d.entry === 'daily')!;
  await client.schedule.create(
    scheduleOptions({ ...mine, cloud: otherCloud, scheduleId: otherId, args: [{ cloud: otherCloud, tier: 'daily' }] }),
  );

  editConfig((s) => (s.entries.verify = { ...s.entries.verify, enabled: false }));
  const r = await osb('schedules', 'apply');
  expect(r.deleted).toEqual([`osbackup-${cloud}-verify`]);
  expect(r.otherClouds).toContain(otherId);
  expect(r.otherClouds).not.toContain(rogueId);
  await expect(describe_(`osbackup-${cloud}-verify`)).rejects.toThrow(/not found/i);
  expect((await describe_(rogueId)).action.workflowType).toBe('someoneElsesWorkflow');
  expect((await describe_(otherId)).memo).toMatchObject({ osbackup: { cloud: otherCloud } });

  // a desired id taken by a schedule osbackup did not create: reported, exit 1, not touched
  await client.schedule.getHandle(`osbackup-${cloud}-rotate`).delete();
  await client.schedule.create({
    scheduleId: `osbackup-${cloud}-rotate`,
    spec: { intervals: [{ every: '1d' }] },
    action: {
      type: 'startWorkflow',
      workflowType: 'someoneElsesWorkflow',
      taskQueue,
      workflowId: `${cloud}-rotate-rogue`,
    },
    state: { paused: true },
  });
  const c = await cli(configFile, ['--json', 'schedules', 'apply']);
  expect(c.exitCode).toBe(1);
  expect(JSON.parse(c.stdout).conflicts).toEqual([
    { scheduleId: `osbackup-${cloud}-rotate`, reason: expect.stringMatching(/not created by osbackup/) },
  ]);
  expect((await describe_(`osbackup-${cloud}-rotate`)).action.workflowType).toBe('someoneElsesWorkflow');

  // and osbackup's own commands refuse it too
  const p = await cli(configFile, ['schedules', 'pause', 'rotate']);
  expect(p.exitCode).toBe(64);
  expect(p.stderr).toMatch(/was not created by osbackup/);
  expect((await describe_(`osbackup-${cloud}-rotate`)).state.paused).toBe(true);
});

test("list shows osbackup's schedules with state and next run; those of clouds outside the config are marked", async () => {
  await client.schedule.getHandle(`osbackup-${cloud}-rotate`).delete();
  await osb('schedules', 'pause', 'weekly', '--reason', 'disk swap');
  const all = await osb('schedules', 'list');
  expect(all.schedules.find((s: { scheduleId: string }) => s.scheduleId === otherId)).toMatchObject({
    cloud: otherCloud,
    inConfig: false,
  });
  expect(all.schedules.map((s: { scheduleId: string }) => s.scheduleId)).not.toContain(rogueId);
  const r = await osb('schedules', 'list', '--cloud', cloud);
  const rows = Object.fromEntries(r.schedules.map((s: { scheduleId: string }) => [s.scheduleId, s]));
  expect(Object.keys(rows).sort()).toEqual(
    ids.filter((id) => !id.endsWith('-verify') && !id.endsWith('-rotate')).sort(),
  );
  expect(rows[`osbackup-${cloud}-weekly`]).toMatchObject({
    paused: true,
    note: 'disk swap',
    timeZone: ZONE,
    overlap: 'SKIP',
    calendar: '03:00 Sun',
  });
  expect(rows[`osbackup-${cloud}-monthly`]).toMatchObject({ paused: false, calendar: '05:00 Sun days 1-7' });
  expect(r.notCreated).toEqual([`osbackup-${cloud}-rotate`]);
  const del = await osb('schedules', 'delete', 'weekly');
  expect(del).toMatchObject({ scheduleId: `osbackup-${cloud}-weekly`, deleted: true, stillInConfig: true });
});

test('clock changes: apply names the run a DST change skips or doubles, and the server does exactly that', async () => {
  editConfig(
    (s) =>
      (s.entries.monthly = {
        calendar: { hour: 2, minute: 30, dayOfWeek: 'sun', dayOfMonth: '25-31', month: ['mar', 'oct'] },
      }),
  );
  const r = await osb('schedules', 'apply');
  expect(r.updated).toEqual([`osbackup-${cloud}-monthly`]);
  const id = `osbackup-${cloud}-monthly`;
  const notes = (r.notes as string[]).filter((n) => n.startsWith(`${id}:`));
  // the last Sundays of March and October: Berlin's clocks change at 02:00 local
  const d = await describe_(id);
  const next = d.info.nextActionTimes.map((t) => t.toISOString());
  const sundays = (month: number) => {
    const out: string[] = [];
    for (let y = new Date().getUTCFullYear(); out.length < 3; y++) {
      const last = new Date(Date.UTC(y, month, 0));
      const day = new Date(Date.UTC(y, month - 1, last.getUTCDate() - last.getUTCDay()));
      if (day.getTime() > Date.now()) out.push(day.toISOString().slice(0, 10));
    }
    return out;
  };
  const [march] = sundays(3);
  const [october] = sundays(10);
  expect(notes).toEqual(
    expect.arrayContaining([
      expect.stringContaining(`02:30 does not exist in ${ZONE} on ${march}`),
      expect.stringContaining(`02:30 happens twice in ${ZONE} on ${october}`),
    ]),
  );
  // nothing on the day of the spring change. On the autumn one 02:30 comes twice (00:30Z in
  // summer time, 01:30Z in winter time); the SDK's docs say both run, this server runs only the
  // second — measured here, so a server that changes this fails the test and the note is revisited.
  expect(next.filter((t) => t.startsWith(march!))).toEqual([]);
  expect(next.filter((t) => t.startsWith(october!))).toEqual([`${october}T01:30:00.000Z`]);
  // every other listed time is 02:30 Berlin on a last Sunday of October (Berlin is then UTC+1)
  expect(next.every((t) => t.endsWith('T01:30:00.000Z') && t.slice(5, 7) === '10')).toBe(true);
});
