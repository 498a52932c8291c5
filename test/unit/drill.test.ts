// The DR drill's pure parts (core/dr/drill.ts, config/drill-schema.ts, the drill schedule
// entry): which point it drills on, RPO, the seed's checks, the record's verdict and REPORT.md.
import type { CatalogEntry } from '../../core/catalog/catalog.js';
import {
  achievedRpoSeconds,
  drillChecks,
  drillId,
  drillRecord,
  newestRecoverable,
  pickDrillPoint,
  renderDrillReport,
  type DrillRecordInput,
} from '../../core/dr/drill.js';
import { desiredSchedules } from '../../client/lib/schedules.js';
import { parseConfig } from '../../config/load.js';
import { cloudYaml, configProblems, configYaml } from '../helpers/config-fixture.js';

const row = (id: string, completedAt: string, over: Partial<CatalogEntry> = {}): CatalogEntry => ({
  id,
  cloud: 'prod',
  component: 'database',
  kind: 'full',
  parentId: null,
  startedAt: completedAt,
  completedAt,
  sourceHost: 'ctl1',
  bytes: 1,
  streamBytes: 1,
  sha256: 'x',
  path: id,
  toLsn: '',
  binlog: null,
  verification: 'UNVERIFIED',
  lastVerifiedAt: null,
  target: 'local',
  check: 'UNCHECKED',
  lastCheckedAt: null,
  imported: null,
  ...over,
});

describe('the restore point a drill uses', () => {
  test("the newest VERIFIED database point, passing over newer unverified, damaged and other clouds' ones", () => {
    const rows = [
      row('db-1', '2026-12-01T02:00:00Z', { verification: 'VERIFIED' }),
      row('db-2', '2026-12-02T02:00:00Z', { verification: 'VERIFIED' }),
      row('db-3', '2026-12-03T02:00:00Z', { verification: 'VERIFIED', check: 'CORRUPT' }),
      row('db-4', '2026-12-04T02:00:00Z'),
      row('db-5', '2026-12-05T02:00:00Z', { verification: 'VERIFIED', cloud: 'other' }),
      row('cp-1', '2026-12-05T02:00:00Z', { verification: 'VERIFIED', component: 'control-plane' }),
    ];
    expect(pickDrillPoint(rows, 'prod', 'drill1')).toEqual({ point: rows[1] });
  });

  test('none: the problem names the command that makes one', () => {
    const none = pickDrillPoint([row('db-4', '2026-12-04T02:00:00Z', { verification: 'FAILED' })], 'prod', 'drill1');
    expect(none).toEqual({ problem: expect.stringContaining('no VERIFIED database restore point (1 backups') });
    expect((none as { problem: string }).problem).toContain('osbackup restore db --cloud prod --to drill1 --verify');
    expect((pickDrillPoint([], 'prod', 'drill1') as { problem: string }).problem).toMatch(
      /has no database backup: take one \(`osbackup backup db --cloud prod`\)/,
    );
  });
});

describe('achieved RPO', () => {
  test("without an archive: the restore point itself; with one reaching past it: the archive's end", () => {
    expect(newestRecoverable('2026-12-06T02:00:00.000Z', [])).toEqual({
      at: '2026-12-06T02:00:00.000Z',
      via: 'restore point',
    });
    // a range ending at 05:59:59 (inclusive) recovers everything before 06:00:00
    expect(
      newestRecoverable('2026-12-06T02:00:00.000Z', [{ from: '2026-12-06T02:00:00Z', to: '2026-12-06T05:59:59Z' }]),
    ).toEqual({ at: '2026-12-06T06:00:00.000Z', via: 'binlog archive' });
    // a range of another, older stretch does not extend this point
    expect(
      newestRecoverable('2026-12-06T02:00:00.000Z', [{ from: '2026-12-01T02:00:00Z', to: '2026-12-01T05:00:00Z' }]).via,
    ).toBe('restore point');
    expect(achievedRpoSeconds('2026-12-06T06:00:30.000Z', '2026-12-06T06:00:00.000Z')).toBe(30);
    expect(achievedRpoSeconds('2026-12-06T05:59:59.000Z', '2026-12-06T06:00:00.000Z')).toBe(0);
  });
});

describe('integrity checks', () => {
  const recorded = [
    { table: 'keystone.project', rows: 4, checksum: '111', stable: true },
    { table: 'nova.instances', rows: 2, checksum: '222', stable: true },
    { table: 'glance.images', rows: 7, checksum: '333', stable: false },
  ];
  test("the seed's counts against the recorded ones, and every recorded checksum as the restore compared it", () => {
    const counted = [
      { table: 'keystone.project', rows: 4, checksum: '111' },
      { table: 'nova.instances', rows: 3, checksum: '999' },
      { table: 'neutron.ports', rows: 9, checksum: '5' },
    ];
    const compared = [
      {
        table: 'keystone.project',
        expectedRows: 4,
        actualRows: 4,
        expectedChecksum: '111',
        actualChecksum: '111',
        outcome: 'equal' as const,
      },
      {
        table: 'nova.instances',
        expectedRows: 2,
        actualRows: 3,
        expectedChecksum: '222',
        actualChecksum: '999',
        outcome: 'different' as const,
      },
      {
        table: 'glance.images',
        expectedRows: 7,
        actualRows: 8,
        expectedChecksum: '333',
        actualChecksum: '334',
        outcome: 'unstable' as const,
      },
    ];
    const c = drillChecks(['keystone.project', 'nova.instances', 'neutron.ports'], recorded, counted, compared);
    expect(c.map((x) => [x.name, x.ok, x.expected, x.actual])).toEqual([
      ['SELECT COUNT(*) FROM keystone.project', true, '4', '4'],
      ['SELECT COUNT(*) FROM nova.instances', false, '2', '3'],
      ['SELECT COUNT(*) FROM neutron.ports', true, 'not recorded (readable)', '9'],
      ['CHECKSUM TABLE keystone.project', true, '111', '111'],
      ['CHECKSUM TABLE nova.instances', false, '222', '999'],
      ['CHECKSUM TABLE glance.images', true, '333 (written during the backup: not judged)', '334'],
    ]);
  });
  test('a seed table the restored database does not have fails', () => {
    expect(drillChecks(['nova.instances'], recorded, [], [])).toEqual([
      { name: 'SELECT COUNT(*) FROM nova.instances', ok: false, expected: '2', actual: 'unreadable' },
    ]);
  });
});

describe('the record and its report', () => {
  const base: DrillRecordInput = {
    id: drillId('2026-12-06T06:00:00.000Z'),
    cloud: 'prod',
    workflowId: 'dr-drill:prod:20261206-060000',
    startedAt: '2026-12-06T06:00:00.000Z',
    completedAt: '2026-12-06T06:01:10.000Z',
    restorePoint: {
      id: 'db-full-1',
      component: 'database',
      completedAt: '2026-12-06T02:00:00.000Z',
      verification: 'VERIFIED',
      pitrTarget: null,
    },
    steps: [
      {
        name: 'restore database',
        startedAt: '2026-12-06T06:00:01.000Z',
        completedAt: '2026-12-06T06:01:01.000Z',
        seconds: 60,
        result: 'ok',
        detail: 'db-full-1 onto drill1: VERIFIED',
      },
      {
        name: 'integrity checks',
        startedAt: '2026-12-06T06:01:01.000Z',
        completedAt: '2026-12-06T06:01:03.500Z',
        seconds: 2.5,
        result: 'ok',
        detail: '2/2 checks passed',
      },
    ],
    newestRecoverableAt: '2026-12-06T02:00:00.000Z',
    targets: { rtoSeconds: 600, rpoSeconds: 86_400 },
    checks: [{ name: 'SELECT COUNT(*) FROM keystone.project', ok: true, expected: '4', actual: '4' }],
  };

  test("passed: RTO from the first step's start to the last one's end, RPO from the drill's start", () => {
    const r = drillRecord(base);
    expect(r).toMatchObject({
      id: 'drill-20261206T060000Z',
      kind: 'drill',
      formatVersion: 1,
      rtoSeconds: 62.5,
      rpoSeconds: 4 * 3600,
      result: 'passed',
      breaches: [],
    });
    const md = renderDrillReport(r);
    expect(md).toContain('# DR drill drill-20261206T060000Z — PASSED');
    expect(md).toContain('| RTO (restore + checks) | 62.5 s | 600 s | yes |');
    expect(md).toContain('| RPO (start − newest recoverable instant) | 14400.0 s | 86400 s | yes |');
    expect(md).toContain(
      '| restore database | ok | 60.0 | 2026-12-06T06:00:01.000Z | db-full-1 onto drill1: VERIFIED |',
    );
    expect(md).toContain('| SELECT COUNT(*) FROM keystone.project | yes | 4 | 4 |');
    expect(md).not.toContain('## Breaches');
  });

  test('a target set below the measured value fails it, with the breach as a sentence', () => {
    const r = drillRecord({ ...base, targets: { rtoSeconds: 1, rpoSeconds: 60 } });
    expect(r.result).toBe('failed');
    expect(r.breaches).toEqual(['RTO 62.5 s exceeds the target 1 s', 'RPO 14400.0 s exceeds the target 60 s']);
    const md = renderDrillReport(r);
    expect(md).toContain('— FAILED');
    expect(md).toContain('| 62.5 s | 1 s | **no** |');
    expect(md).toContain('## Breaches\n\n- RTO 62.5 s exceeds the target 1 s\n- RPO 14400.0 s exceeds the target 60 s');
  });

  test('no targets: measured, not judged; a failed step or check fails the drill and says why', () => {
    expect(drillRecord({ ...base, targets: { rtoSeconds: null, rpoSeconds: null } }).result).toBe('passed');
    const failed = drillRecord({
      ...base,
      steps: [
        { ...base.steps[0]!, result: 'failed', detail: 'restore of db-full-1 did not reproduce the recorded data' },
      ],
      checks: [],
    });
    expect(failed.breaches).toEqual([
      'step restore database failed: restore of db-full-1 did not reproduce the recorded data',
    ]);
    expect(renderDrillReport(failed)).toContain('none ran (the restore did not complete)');
    const badCheck = drillRecord({
      ...base,
      checks: [{ name: 'CHECKSUM TABLE a.b', ok: false, expected: '1', actual: '2' }],
    });
    expect(badCheck.breaches).toEqual(['check CHECKSUM TABLE a.b failed: expected 1, got 2']);
  });
});

describe('config', () => {
  const drillHost = `      drill1:
        address: 10.0.0.21
        keyFile: /etc/osbackup/id_ed25519
        hostKeyFingerprint: "SHA256:ynezP39Gm+k3pB+u/madavGjUy7MtT9gUzZ91WNs6a4"
        mariadb: { datadir: /var/lib/mysql, stopCommand: [systemctl, stop, mariadb], startCommand: [systemctl, start, mariadb] }
`;
  test("defaults: the seed's two tables, no targets, monthly on the second Sunday", () => {
    const c = parseConfig(
      configYaml(cloudYaml('prod', `${drillHost}    drill: { host: drill1, rtoTargetSeconds: 3600 }\n`)),
    );
    expect(c.clouds.prod!.drill).toMatchObject({
      host: 'drill1',
      rtoTargetSeconds: 3600,
      tables: ['keystone.project', 'nova.instances'],
      controlPlane: false,
      schedule: { enabled: true },
    });
    const { desired } = desiredSchedules(c);
    expect(desired.find((d) => d.entry === 'drill')).toMatchObject({
      scheduleId: 'osbackup-prod-drill',
      workflowType: 'drDrillWorkflow',
      args: [{ cloud: 'prod' }],
      workflowId: 'prod-drill',
      searchAttributes: { Cloud: 'prod', Tier: 'drill' },
      calendar: {
        hour: [{ start: 6, end: 6, step: 1 }],
        dayOfWeek: [{ start: 0, end: 0, step: 1 }],
        dayOfMonth: [{ start: 8, end: 14, step: 1 }],
      },
    });
  });

  test('no drill section: no drill schedule; a disabled one neither', () => {
    expect(desiredSchedules(parseConfig(configYaml())).desired.some((d) => d.entry === 'drill')).toBe(false);
    const off = parseConfig(
      configYaml(cloudYaml('prod', `${drillHost}    drill: { host: drill1, schedule: { enabled: false } }\n`)),
    );
    expect(desiredSchedules(off).desired.some((d) => d.entry === 'drill')).toBe(false);
  });

  test('the live database host, an unknown host or one without mariadb is refused, naming the fix', () => {
    expect(
      configProblems(configYaml(cloudYaml('prod', '    drill: { host: ctl1 }\n')))['clouds.prod.drill.host'],
    ).toMatch(/is the live database host "ctl1".*name an isolated lab host/);
    expect(
      configProblems(configYaml(cloudYaml('prod', '    drill: { host: nope }\n')))['clouds.prod.drill.host'],
    ).toMatch(/names host "nope", which is not under hosts \(ctl1\)/);
    expect(
      configProblems(
        configYaml(cloudYaml('prod', `${drillHost.replace(/ {8}mariadb.*\n/, '')}    drill: { host: drill1 }\n`)),
      )['clouds.prod.hosts.drill1.mariadb'],
    ).toMatch(/required on the drill host/);
  });
});
