// The `schedules` section of a cloud, through the real config loader (paths and reasons as an
// operator sees them) and the real CLI.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parseConfig } from '../../config/load.js';
import { configProblems, configYaml } from '../helpers/config-fixture.js';

const base = configYaml();

/** The base config with a `schedules:` section (YAML, indented under the cloud). */
function withSchedules(yaml: string): string {
  return base + '    schedules:\n' + yaml.replace(/^\n/, '').replace(/^/gm, '      ');
}

const problems = configProblems;

const one = (start: number, end = start, step = 1) => ({ start, end, step });

describe('schedules config', () => {
  test("absent: the seed's times in UTC, every entry enabled, the documented policies", () => {
    const s = parseConfig(base).clouds.prod!.schedules;
    expect(s).toMatchObject({ timeZone: 'UTC', overlap: 'BUFFER_ONE', catchupWindow: '1h', pauseOnFailure: false });
    const e = s.entries;
    expect(Object.keys(e)).toEqual(['daily', 'controlPlane', 'weekly', 'monthly', 'rotate', 'verify', 'dump']);
    // the logical dump is the one entry off unless asked for (it reads every row through the server)
    expect(
      Object.entries(e)
        .filter(([, x]) => !x.enabled)
        .map(([k]) => k),
    ).toEqual(['dump']);
    expect(e.daily.calendar).toEqual({ hour: [one(2)], minute: [one(0)] });
    expect(e.controlPlane.calendar).toEqual({ hour: [one(2)], minute: [one(30)] });
    expect(e.weekly.calendar).toEqual({ hour: [one(3)], minute: [one(0)], dayOfWeek: [one(0)] });
    // first Sunday: day 1-7 AND Sunday (Temporal ANDs the two fields)
    expect(e.monthly.calendar).toEqual({
      hour: [one(5)],
      minute: [one(0)],
      dayOfWeek: [one(0)],
      dayOfMonth: [one(1, 7)],
    });
    expect(e.rotate.calendar).toEqual({ hour: [one(5)], minute: [one(30)] });
    expect(e.verify.calendar).toEqual({ hour: [one(4)], minute: [one(0)], dayOfWeek: [one(3)] });
  });

  test('a partial section keeps the defaults of everything it does not name', () => {
    const s = parseConfig(
      withSchedules(`
timeZone: Europe/Berlin
catchupWindow: 90min
entries:
  daily: { enabled: false }
  monthly: { overlap: skip, pauseOnFailure: true, calendar: { hour: 6, minute: 15, dayOfWeek: sun, dayOfMonth: 1-7 } }
`),
    ).clouds.prod!.schedules;
    expect(s.timeZone).toBe('Europe/Berlin');
    expect(s.catchupWindow).toBe('90min');
    expect(s.overlap).toBe('BUFFER_ONE');
    expect(s.entries.daily).toMatchObject({ enabled: false, calendar: { hour: [one(2)] } });
    expect(s.entries.monthly).toMatchObject({
      enabled: true,
      overlap: 'SKIP',
      pauseOnFailure: true,
      calendar: { hour: [one(6)], minute: [one(15)], dayOfWeek: [one(0)], dayOfMonth: [one(1, 7)] },
    });
    expect(s.entries.weekly.calendar).toEqual({ hour: [one(3)], minute: [one(0)], dayOfWeek: [one(0)] });
  });

  test('calendar fields: values, names, lists, ranges with steps, "*", and Sunday as 0 or 7', () => {
    const e = parseConfig(
      withSchedules(`
entries:
  daily: { calendar: { hour: [1, "13-15"], minute: "*/15", dayOfWeek: mon-fri } }
  weekly: { calendar: { hour: 3, dayOfWeek: [Monday, THU, 7] } }
  monthly: { calendar: { hour: 5, dayOfWeek: fri-sun, month: jan-mar } }
  rotate: { calendar: { hour: "*", minute: { start: 5, end: 50, step: 15 }, month: [12, june] } }
`),
    ).clouds.prod!.schedules.entries;
    expect(e.daily.calendar).toEqual({ hour: [one(1), one(13, 15)], minute: [one(0, 59, 15)], dayOfWeek: [one(1, 5)] });
    expect(e.weekly.calendar.dayOfWeek).toEqual([one(1), one(4), one(0)]);
    expect(e.monthly.calendar.dayOfWeek).toEqual([one(5, 6), one(0)]);
    expect(e.monthly.calendar.month).toEqual([one(1, 3)]);
    expect(e.rotate.calendar).toEqual({ hour: [one(0, 23)], minute: [one(5, 50, 15)], month: [one(12), one(6)] });
  });

  test('bad values: every one reported with its config path and the reason', () => {
    const p = problems(
      withSchedules(`
timeZone: Mars/Olympus_Mons
overlap: ALLOW_ALL
catchupWindow: 5s
pauseOnFailure: sometimes
entries:
  daily: { calendar: { hour: 24 } }
  controlPlane: { calendar: { minute: 30 } }
  weekly: { calendar: { hour: 3, dayOfWeek: funday } }
  monthly: { calendar: { hour: 5, dayOfMonth: 8-1, dayOfWeek: sun } }
  rotate: { calendar: { hour: 5, second: 30 } }
  verify: { enabled: yes please, catchupWindow: 1 hour, overlap: sometimes, calendar: { hour: [], month: 13 } }
  hourly: { calendar: { hour: "*" } }
`),
    );
    expect(p['clouds.prod.schedules.timeZone']).toMatch(/"Mars\/Olympus_Mons" is not an IANA time zone/);
    expect(p['clouds.prod.schedules.overlap']).toMatch(/ALLOW_ALL is not allowed: it runs two backups/);
    expect(p['clouds.prod.schedules.catchupWindow']).toMatch(/at least 10s/);
    expect(p['clouds.prod.schedules.pauseOnFailure']).toMatch(/boolean/i);
    expect(p['clouds.prod.schedules.entries.daily.calendar.hour']).toMatch(/24 is outside 0-23/);
    expect(p['clouds.prod.schedules.entries.controlPlane.calendar.hour']).toMatch(/is required/);
    expect(p['clouds.prod.schedules.entries.weekly.calendar.dayOfWeek']).toMatch(/"funday" is not a day of the week/);
    expect(p['clouds.prod.schedules.entries.monthly.calendar.dayOfMonth']).toMatch(/8-1 is empty/);
    expect(p['clouds.prod.schedules.entries.rotate.calendar']).toMatch(/second/);
    expect(p['clouds.prod.schedules.entries.verify.enabled']).toMatch(/boolean/i);
    expect(p['clouds.prod.schedules.entries.verify.catchupWindow']).toMatch(/must be a duration/);
    expect(p['clouds.prod.schedules.entries.verify.overlap']).toMatch(/must be one of SKIP, BUFFER_ONE/);
    expect(p['clouds.prod.schedules.entries.verify.calendar.hour']).toMatch(/at least one value/);
    expect(p['clouds.prod.schedules.entries.verify.calendar.month']).toMatch(/13 is outside 1-12/);
    expect(p['clouds.prod.schedules.entries']).toMatch(/hourly/);
  });

  test('time zones: names are case-sensitive on the server, fixed offsets are not zones', () => {
    expect(problems(withSchedules('timeZone: europe/berlin\n'))['clouds.prod.schedules.timeZone']).toMatch(
      /write "Europe\/Berlin"/,
    );
    expect(problems(withSchedules('timeZone: "+01:00"\n'))['clouds.prod.schedules.timeZone']).toMatch(/fixed offsets/);
    expect(
      parseConfig(withSchedules('timeZone: America/Argentina/Buenos_Aires\n')).clouds.prod!.schedules.timeZone,
    ).toBe('America/Argentina/Buenos_Aires');
  });

  test('the CLI prints the bad schedule paths and exits 2', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'osb-sched-cfg-')), 'bad.yml');
    writeFileSync(
      file,
      withSchedules('overlap: whenever\nentries:\n  weekly: { calendar: { hour: 3, dayOfWeek: 9 } }\n'),
    );
    const r = await execa('node', ['dist/client/cli.js', '--config', file, 'schedules', 'apply', '--dry-run'], {
      reject: false,
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('- clouds.prod.schedules.overlap: must be one of');
    expect(r.stderr).toContain('- clouds.prod.schedules.entries.weekly.calendar.dayOfWeek: 9 is outside 0-7');
  });

  test('the retention entry may be spelled `retention` (stored and shown as rotate); both at once is refused', () => {
    const e = parseConfig(withSchedules('entries:\n  retention: { enabled: false, calendar: { hour: 6 } }\n')).clouds
      .prod!.schedules.entries;
    expect(e.rotate.enabled).toBe(false);
    expect(e.rotate.calendar.hour).toEqual([one(6)]);
    expect('retention' in e).toBe(false);
    const p = problems(withSchedules('entries:\n  retention: { enabled: false }\n  rotate: { enabled: true }\n'));
    expect(p['clouds.prod.schedules.entries.retention']).toMatch(/one entry: keep one/);
  });
});
