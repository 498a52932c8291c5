// Schedule planning (client/lib/schedules.ts): config → desired schedules, and the diff with
// what the server holds. Pure: no server here (test/integration/schedules.test.ts has one).
import { parseConfig } from '../../config/load.js';
import { cloudYaml, configYaml } from '../helpers/config-fixture.js';
import {
  calendarSpec,
  clockChangeNotes,
  clockChanges,
  describeCalendar,
  desiredSchedules,
  driftOf,
  existingFrom,
  planSchedules,
  scheduleOptions,
  type DesiredSchedule,
  type ExistingSchedule,
} from '../../client/lib/schedules.js';

function config(clouds: string, taskQueue = 'osbackup') {
  return parseConfig(configYaml(clouds, `temporal: { taskQueue: ${taskQueue} }\n`));
}

const withCp = (name: string, schedules = '') =>
  cloudYaml(name, `    controlPlane: { keystoneHosts: [] }\n${schedules}`);

/** The existing-schedule view of a desired one as the server would hand it back (memos round-trip). */
function asExisting(d: DesiredSchedule): ExistingSchedule {
  const o = scheduleOptions(d);
  return existingFrom({ scheduleId: o.scheduleId, memo: o.memo, action: { memo: o.action.memo } });
}

describe('desired schedules', () => {
  test('one per enabled entry, each starting its workflow with the cloud, tier, search attributes and task queue', () => {
    const { desired, notes } = desiredSchedules(config(withCp('prod'), 'backups'));
    expect(notes).toEqual([]);
    const byId = Object.fromEntries(desired.map((d) => [d.scheduleId, d]));
    expect(Object.keys(byId).sort()).toEqual([
      'osbackup-prod-control-plane',
      'osbackup-prod-daily',
      'osbackup-prod-monthly',
      'osbackup-prod-rotate',
      'osbackup-prod-verify',
      'osbackup-prod-weekly',
    ]);
    expect(byId['osbackup-prod-daily']).toMatchObject({
      workflowType: 'tierWorkflow',
      args: [{ cloud: 'prod', tier: 'daily' }],
      workflowId: 'prod-daily',
      taskQueue: 'backups',
      searchAttributes: { Cloud: 'prod', Tier: 'daily' },
    });
    expect(byId['osbackup-prod-control-plane']).toMatchObject({
      workflowType: 'tierWorkflow',
      args: [{ cloud: 'prod', tier: 'control-plane' }],
      workflowId: 'prod-control-plane',
      searchAttributes: { Tier: 'control-plane' },
    });
    expect(byId['osbackup-prod-monthly']).toMatchObject({
      workflowType: 'tierWorkflow',
      args: [{ cloud: 'prod', tier: 'monthly' }],
    });
    expect(byId['osbackup-prod-rotate']).toMatchObject({
      workflowType: 'retentionWorkflow',
      args: [{ cloud: 'prod' }],
      workflowId: 'prod-rotate',
      searchAttributes: { Cloud: 'prod', Tier: 'rotate' },
    });
    expect(byId['osbackup-prod-verify']).toMatchObject({ workflowType: 'verifyWorkflow', args: [{ cloud: 'prod' }] });
    for (const d of desired)
      expect(d).toMatchObject({
        timeZone: 'UTC',
        overlap: 'BUFFER_ONE',
        catchupWindowMs: 3_600_000,
        pauseOnFailure: false,
      });
  });

  test('disabled entries are not desired; the control-plane entry needs something to back up', () => {
    const { desired, notes } = desiredSchedules(
      config(cloudYaml('edge', '    schedules: { entries: { verify: { enabled: false } } }\n')),
    );
    expect(desired.map((d) => d.scheduleId).sort()).toEqual([
      'osbackup-edge-daily',
      'osbackup-edge-monthly',
      'osbackup-edge-rotate',
      'osbackup-edge-weekly',
    ]);
    expect(notes).toEqual([
      expect.stringMatching(
        /osbackup-edge-control-plane: not scheduled — cloud edge has no controlPlane or rabbitmq section/,
      ),
    ]);
  });

  test("per-entry policies override the section's", () => {
    const { desired } = desiredSchedules(
      config(
        withCp(
          'prod',
          '    schedules: { overlap: skip, catchupWindow: 2h, entries: { weekly: { overlap: buffer_all, catchupWindow: 30min, pauseOnFailure: true } } }\n',
        ),
      ),
    );
    const w = desired.find((d) => d.entry === 'weekly')!;
    const d = desired.find((x) => x.entry === 'daily')!;
    expect([w.overlap, w.catchupWindowMs, w.pauseOnFailure]).toEqual(['BUFFER_ALL', 1_800_000, true]);
    expect([d.overlap, d.catchupWindowMs, d.pauseOnFailure]).toEqual(['SKIP', 7_200_000, false]);
  });

  test('only the clouds asked for', () => {
    const c = config(withCp('a') + withCp('b'));
    expect(new Set(desiredSchedules(c, ['b']).desired.map((d) => d.cloud))).toEqual(new Set(['b']));
    expect(() => desiredSchedules(c, ['z'])).toThrow(/cloud "z" is not in the config/);
  });

  test('Temporal calendar: first Sunday is day 1-7 AND Sunday; names for days and months', () => {
    const { desired } = desiredSchedules(
      config(
        withCp(
          'prod',
          '    schedules: { entries: { verify: { calendar: { hour: [4, 16], minute: 15, dayOfWeek: mon-fri, month: [jan, 7] } } } }\n',
        ),
      ),
    );
    const monthly = desired.find((d) => d.entry === 'monthly')!;
    expect(calendarSpec(monthly.calendar)).toEqual({
      second: 0,
      minute: [{ start: 0, end: 0, step: 1 }],
      hour: [{ start: 5, end: 5, step: 1 }],
      dayOfMonth: [{ start: 1, end: 7, step: 1 }],
      dayOfWeek: [{ start: 'SUNDAY', end: 'SUNDAY', step: 1 }],
    });
    const verify = desired.find((d) => d.entry === 'verify')!;
    expect(calendarSpec(verify.calendar)).toMatchObject({
      hour: [
        { start: 4, end: 4, step: 1 },
        { start: 16, end: 16, step: 1 },
      ],
      dayOfWeek: [{ start: 'MONDAY', end: 'FRIDAY', step: 1 }],
      month: [
        { start: 'JANUARY', end: 'JANUARY', step: 1 },
        { start: 'JULY', end: 'JULY', step: 1 },
      ],
    });
    expect(describeCalendar(monthly.calendar)).toBe('05:00 Sun days 1-7');
    expect(describeCalendar(verify.calendar)).toBe('hour 4,16, minute 15 Mon-Fri Jan,Jul');
    expect(describeCalendar(desired.find((d) => d.entry === 'daily')!.calendar)).toBe('02:00 daily');
  });

  test('digests: equal for equal definitions however written, different when anything that reaches the server changes', () => {
    const a = desiredSchedules(
      config(
        withCp(
          'prod',
          '    schedules: { timeZone: Europe/Berlin, entries: { daily: { calendar: { hour: 2, minute: 0 } } } }\n',
        ),
      ),
    ).desired;
    const b = desiredSchedules(
      config(
        withCp(
          'prod',
          '    schedules: { entries: { daily: { calendar: { minute: "0", hour: [2] } } }, timeZone: Europe/Berlin }\n',
        ),
      ),
    ).desired;
    expect(b.map((d) => d.digest)).toEqual(a.map((d) => d.digest));
    const hour = desiredSchedules(
      config(
        withCp('prod', '    schedules: { timeZone: Europe/Berlin, entries: { daily: { calendar: { hour: 1 } } } }\n'),
      ),
    ).desired;
    expect(hour.filter((d, i) => d.digest !== a[i]!.digest).map((d) => d.entry)).toEqual(['daily']);
    const zone = desiredSchedules(config(withCp('prod'))).desired;
    expect(zone.every((d, i) => d.digest !== a[i]!.digest)).toBe(true);
    const queue = desiredSchedules(
      config(withCp('prod', '    schedules: { timeZone: Europe/Berlin }\n'), 'elsewhere'),
    ).desired;
    expect(queue.every((d, i) => d.digest !== a[i]!.digest)).toBe(true);
  });

  test('the SDK options carry the marker, the digest, the workflow id and both search attributes', () => {
    const d = desiredSchedules(config(withCp('prod'))).desired.find((x) => x.entry === 'weekly')!;
    const o = scheduleOptions(d);
    expect(o.memo).toEqual({ osbackup: { managedBy: 'osbackup', cloud: 'prod', entry: 'weekly' } });
    expect(o.action).toMatchObject({
      type: 'startWorkflow',
      workflowType: 'tierWorkflow',
      workflowId: 'prod-weekly',
      args: [{ cloud: 'prod', tier: 'weekly' }],
      memo: { osbackupSchedule: { scheduleId: 'osbackup-prod-weekly', digest: d.digest } },
    });
    expect(
      (o.action.typedSearchAttributes as { key: { name: string }; value: unknown }[]).map((p) => [p.key.name, p.value]),
    ).toEqual([
      ['Cloud', 'prod'],
      ['Tier', 'weekly'],
    ]);
    expect(o.policies).toEqual({ overlap: 'BUFFER_ONE', catchupWindow: 3_600_000, pauseOnFailure: false });
    expect(o.spec.timezone).toBe('UTC');
  });
});

describe('plan: desired vs existing', () => {
  const cfg = config(withCp('prod') + withCp('lab'));
  const desired = desiredSchedules(cfg, ['prod']).desired;
  const ids = (xs: { scheduleId: string }[]) => xs.map((x) => x.scheduleId);

  test('nothing there: create all; everything there as desired: all unchanged', () => {
    expect(ids(planSchedules(desired, [], ['prod']).create)).toEqual(ids(desired).sort());
    const p = planSchedules(desired, desired.map(asExisting), ['prod']);
    expect(p.unchanged).toHaveLength(desired.length);
    expect([p.create, p.update, p.delete, p.conflicts, p.otherClouds].every((x) => x.length === 0)).toBe(true);
  });

  test('a changed definition is updated, and only that one; --force updates all', () => {
    const changed = desiredSchedules(
      config(withCp('prod', '    schedules: { entries: { daily: { calendar: { hour: 1 } } } }\n') + withCp('lab')),
      ['prod'],
    ).desired;
    const p = planSchedules(changed, desired.map(asExisting), ['prod']);
    expect(ids(p.update)).toEqual(['osbackup-prod-daily']);
    expect(p.unchanged).toHaveLength(desired.length - 1);
    expect(planSchedules(desired, desired.map(asExisting), ['prod'], true).update).toHaveLength(desired.length);
  });

  test('osbackup schedules no longer desired are deleted in scope, left alone outside it; others are never touched', () => {
    const labOnes = desiredSchedules(cfg, ['lab']).desired.map(asExisting);
    const foreign: ExistingSchedule = { scheduleId: 'osbackup-prod-hourly-report' };
    const withoutVerify = desired.filter((d) => d.entry !== 'verify');
    const p = planSchedules(withoutVerify, [...desired.map(asExisting), ...labOnes, foreign], ['prod']);
    expect(ids(p.delete)).toEqual(['osbackup-prod-verify']);
    expect(ids(p.otherClouds).sort()).toEqual(ids(labOnes).sort());
    expect(p.unchanged).toHaveLength(withoutVerify.length);
    expect(p.conflicts).toEqual([]);
  });

  test('a desired id held by a schedule osbackup did not create is a conflict, not an update', () => {
    const p = planSchedules(desired, [{ scheduleId: 'osbackup-prod-daily' }], ['prod']);
    expect(p.conflicts).toEqual([
      { scheduleId: 'osbackup-prod-daily', reason: expect.stringMatching(/not created by osbackup/) },
    ]);
    expect(ids(p.create)).not.toContain('osbackup-prod-daily');
    expect(p.update).toEqual([]);
    // cloud "prod-daily"'s entry vs cloud "prod"'s: the id is the same string, the memo tells them apart
    const q = planSchedules(
      desired,
      [
        {
          scheduleId: 'osbackup-prod-weekly',
          managed: { managedBy: 'osbackup', cloud: 'prod-weekly', entry: 'daily' },
        },
      ],
      ['prod'],
    );
    expect(q.conflicts[0]!.reason).toMatch(/cloud prod-weekly, entry daily/);
  });

  test("a hand edit on the server is drift even when the digest matches; the server's spelling of the same definition is not", () => {
    const weekly = desired.find((d) => d.entry === 'weekly')!;
    const o = scheduleOptions(weekly);
    const r = (start: number | string, end = start) => ({ start, end, step: 1 });
    // as the server describes it: every field present, absent ones as full ranges, days by name
    const described = {
      scheduleId: weekly.scheduleId,
      memo: o.memo,
      spec: {
        timezone: 'UTC',
        calendars: [
          {
            second: [r(0)],
            minute: [r(0)],
            hour: [r(3)],
            dayOfMonth: [r(1, 31)],
            month: [r('JANUARY', 'DECEMBER')],
            year: [],
            dayOfWeek: [r('SUNDAY')],
          },
        ],
      },
      policies: { overlap: 'BUFFER_ONE', catchupWindow: 3_600_000, pauseOnFailure: false },
      action: {
        memo: o.action.memo,
        workflowType: 'tierWorkflow',
        taskQueue: 'osbackup',
        workflowId: 'prod-weekly',
        args: [{ tier: 'weekly', cloud: 'prod' }],
        searchAttributes: { Cloud: ['prod'], Tier: ['weekly'] },
      },
    } as Parameters<typeof existingFrom>[0];
    const same = existingFrom(described);
    expect(driftOf(weekly, same.actual!)).toEqual([]);
    expect(planSchedules([weekly], [same], ['prod']).unchanged).toHaveLength(1);

    const edited = existingFrom({
      ...described,
      spec: {
        ...described.spec,
        timezone: 'Europe/Paris',
        calendars: [{ ...described.spec!.calendars![0]!, hour: [r(4)] }],
      },
      policies: { overlap: 'ALLOW_ALL', catchupWindow: 60_000, pauseOnFailure: true },
      action: { ...described.action, args: [{ cloud: 'prod', tier: 'daily' }], searchAttributes: { Cloud: ['prod'] } },
    } as Parameters<typeof existingFrom>[0]);
    const p = planSchedules([weekly], [edited], ['prod']);
    expect(p.update).toEqual([weekly]);
    expect(p.drift).toEqual([
      {
        scheduleId: weekly.scheduleId,
        fields: ['timeZone', 'calendar', 'overlap', 'catchupWindow', 'pauseOnFailure', 'args', 'searchAttributes'],
      },
    ]);
    const withInterval = existingFrom({
      ...described,
      spec: { ...described.spec, intervals: [{ every: 60_000, offset: 0 }] },
    } as Parameters<typeof existingFrom>[0]);
    expect(driftOf(weekly, withInterval.actual!)).toEqual(['calendar']);
  });

  test('schedules whose stored payloads are under another key than the current one (or in clear) are recreated, the others left alone', async () => {
    const { AesGcmPayloadCodec, KeyRing } = await import('../../config/payload-codec.js');
    const { randomBytes } = await import('node:crypto');
    const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
    const old = new AesGcmPayloadCodec(oldKey);
    const ring = new AesGcmPayloadCodec(
      new KeyRing([
        { id: 'k2', key: newKey },
        { id: 'k1', key: oldKey },
      ]),
    );
    const clear = { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('{}') };
    // the server's description as stored: memo, action input, action memo
    const stored = async (codec: typeof old | null, d: DesiredSchedule) => {
      const enc = async () => (codec ? (await codec.encode([clear]))[0]! : clear);
      return {
        ...asExisting(d),
        ...existingFrom({
          scheduleId: d.scheduleId,
          raw: {
            memo: { fields: { osbackup: await enc() } },
            schedule: {
              action: {
                startWorkflow: {
                  input: { payloads: [await enc()] },
                  memo: { fields: { osbackupSchedule: await enc() } },
                },
              },
            },
          },
        }),
        managed: asExisting(d).managed,
        digest: d.digest,
      };
    };
    const [a, b, c] = desired;
    const existing = [await stored(old, a!), await stored(ring, b!), await stored(null, c!)];
    expect(existing.map((e) => e.keyIds)).toEqual([
      [old.keyId, old.keyId, old.keyId],
      ['k2', 'k2', 'k2'],
      [null, null, null],
    ]);
    const p = planSchedules([a!, b!, c!], existing, ['prod'], false, 'k2');
    expect(ids(p.rekey)).toEqual([a!.scheduleId, c!.scheduleId].sort());
    expect(p.staleKeys).toEqual([
      { scheduleId: a!.scheduleId, keyIds: [old.keyId] },
      { scheduleId: c!.scheduleId, keyIds: ['in clear'] },
    ]);
    expect(ids(p.unchanged)).toEqual([b!.scheduleId]);
    expect(p.update).toEqual([]);
    // without a payload key nothing is re-encrypted
    expect(planSchedules([a!, b!, c!], existing, ['prod'], false, null).rekey).toEqual([]);
  });

  test("the marker is read back only when it is osbackup's", () => {
    expect(
      existingFrom({ scheduleId: 'x', memo: { osbackup: { managedBy: 'someone', cloud: 'prod', entry: 'daily' } } })
        .managed,
    ).toBeUndefined();
    expect(
      existingFrom({ scheduleId: 'x', memo: { osbackup: { managedBy: 'osbackup', cloud: 'prod', entry: 'hourly' } } })
        .managed,
    ).toBeUndefined();
    expect(existingFrom({ scheduleId: 'x' })).toEqual({ scheduleId: 'x', managed: undefined, digest: undefined });
  });
});

describe('clock changes (Temporal matches wall-clock times literally)', () => {
  const from = Date.UTC(2026, 10, 30);

  test('found to the minute, skipped and repeated local times', () => {
    expect(clockChanges('Europe/Berlin', from)).toEqual([
      { date: '2027-03-28', dayOfWeek: 0, dayOfMonth: 28, month: 3, from: 120, to: 180, kind: 'skipped' },
      { date: '2027-10-31', dayOfWeek: 0, dayOfMonth: 31, month: 10, from: 120, to: 180, kind: 'repeated' },
    ]);
    // Lord Howe Island moves its clocks by half an hour
    expect(clockChanges('Australia/Lord_Howe', from).map((c) => [c.date, c.from, c.to, c.kind])).toEqual([
      ['2027-04-04', 90, 120, 'repeated'],
      ['2027-10-03', 120, 150, 'skipped'],
    ]);
    expect(clockChanges('UTC', from)).toEqual([]);
  });

  test("the seed's 02:00 and 02:30 in Europe/Berlin: one run lost in March, one doubled in October; 03:00 and later are safe", () => {
    const { desired } = desiredSchedules(config(withCp('prod', '    schedules: { timeZone: Europe/Berlin }\n')));
    const notes = clockChangeNotes(desired, from);
    expect(notes).toEqual([
      expect.stringMatching(
        /^osbackup-prod-daily: 02:00 does not exist in Europe\/Berlin on 2027-03-28 \(clocks go forward\): that run will not happen/,
      ),
      expect.stringMatching(/^osbackup-prod-daily: 02:00 happens twice in Europe\/Berlin on 2027-10-31/),
      expect.stringMatching(/^osbackup-prod-control-plane: 02:30 does not exist in Europe\/Berlin on 2027-03-28/),
      expect.stringMatching(/^osbackup-prod-control-plane: 02:30 happens twice/),
    ]);
    expect(clockChangeNotes(desiredSchedules(config(withCp('prod'))).desired, from)).toEqual([]);
  });

  test('a calendar that does not fall on the day of the change gets no note', () => {
    const { desired } = desiredSchedules(
      config(
        withCp(
          'prod',
          '    schedules: { timeZone: Europe/Berlin, entries: { daily: { calendar: { hour: 2, dayOfWeek: mon-sat } }, controlPlane: { enabled: false } } }\n',
        ),
      ),
    );
    expect(clockChangeNotes(desired, from)).toEqual([]);
  });
});
