// The DR drill on the lab: the lab's OpenStack cloud (os1, the services' real databases) is
// backed up, the backup proven by a restore (VERIFIED), then drilled onto ctl2's MariaDB (an
// isolated host, never os1's own server): RTO and RPO measured, the seed's counts on ctl2
// equal to os1's, drill.json + REPORT.md in the repository; the newest control-plane backup
// re-read and its Kolla tree unpacked into a scratch folder on ctl2 and compared. With an RTO
// target of 1 s the same drill fails, the breach in the record and in the error; `osbackup
// status` then shows the drill and exits 7. ctl2's previous data is put back afterwards.
// Takes ~40-60 s (one os1 backup, one verifying restore, two drills).
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { DrillRecord } from '../../core/dr/record.js';
import type { DrDrillResult } from '../../workflows/dr-drill.js';
import type { RecoveryStatus } from '../../core/status/status.js';
import {
  cli,
  configWithOwnRepo,
  deriveConfig,
  labDir,
  liveFacts,
  onLabHost,
  startWorker,
  type WorkerProcess,
} from '../helpers/lab.js';

const SEED = ['keystone.project', 'nova.instances'];
type Raw = Record<string, any>;
/** The openstack cloud gets ctl2 (copied from the lab cloud) as its drill host, and ctl3's Kolla tree as its control plane. */
const withDrill = (repo: string | null, rtoTargetSeconds: number) => (c: Raw) => {
  if (repo) c.repository.path = repo;
  const os = c.clouds.openstack;
  os.hosts.ctl2 = structuredClone(c.clouds.lab.hosts.ctl2);
  os.hosts.ctl3 = structuredClone(c.clouds.kolla.hosts.ctl3);
  os.controlPlane = { kolla: { host: 'ctl3', configDir: '/etc/kolla' } };
  os.drill = { host: 'ctl2', rtoTargetSeconds, rpoTargetSeconds: 7 * 86_400, controlPlane: true };
};

let own: ReturnType<typeof configWithOwnRepo>;
let tightConfig: string;
let worker: WorkerProcess | undefined;
let asideBefore: string[];
let backupId: string;
let passed: DrillRecord;

const ctl2Dir = () => join(labDir(), 'ctl2');
const asides = () =>
  readdirSync(ctl2Dir())
    .filter((n) => n.startsWith('data.before-'))
    .sort();
const drills = (): DrillRecord[] => {
  const dir = join(own.repo, 'clouds/openstack/drills');
  return existsSync(dir)
    ? readdirSync(dir)
        .map((id) => JSON.parse(readFileSync(join(dir, id, 'drill.json'), 'utf8')) as DrillRecord)
        .sort((a, b) => a.completedAt.localeCompare(b.completedAt))
    : [];
};

beforeAll(async () => {
  own = configWithOwnRepo('dr-drill', withDrill(null, 600));
  tightConfig = deriveConfig('dr-drill-tight', withDrill(join(own.dir, 'repo'), 1));
  asideBefore = asides();
  worker = await startWorker(own.configFile);
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  // ctl2 gets back the data it had before the first restore of this file (kept aside by it);
  // os1's data restored onto ctl2 by the drills goes
  const mine = asides().filter((n) => !asideBefore.includes(n));
  if (mine.length) {
    const d = ctl2Dir();
    const r = await onLabHost(
      'ctl2',
      `set -e; ${process.cwd()}/test/lab/db.sh stop ${d}; rm -rf ${d}/data ${mine
        .slice(1)
        .map((n) => `${d}/${n}`)
        .join(' ')}; mv ${d}/${mine[0]} ${d}/data; ${process.cwd()}/test/lab/db.sh start ${d}`,
    );
    if (r.exitCode !== 0) throw new Error(`ctl2 could not be put back: ${r.stderr.toString()}`);
  }
  if (own) rmSync(own.dir, { recursive: true, force: true });
}, 120_000);

test('without a VERIFIED restore point the drill fails at once, naming the command that makes one', async () => {
  const r = await cli(own.configFile, ['dr', 'drill', '--cloud', 'openstack', '--wait']);
  expect(r.exitCode).toBe(1);
  expect(r.stderr).toContain('[BackupNotFound] no restore point to drill on');
  expect(r.stderr).toContain('osbackup restore db --cloud openstack --to ctl2 --verify');
  expect(drills()).toEqual([]); // nothing was drilled, nothing recorded
}, 60_000);

test("a drill on os1's newest VERIFIED backup: RTO and RPO measured, targets met, the seed's counts equal to os1's, drill.json + REPORT.md written", async () => {
  const b = await cli(own.configFile, ['--json', 'backup', 'db', '--cloud', 'openstack', '--wait']);
  expect(b.exitCode).toBe(0);
  backupId = (JSON.parse(b.stdout) as { backupId: string }).backupId;
  const v = await cli(own.configFile, ['--json', 'restore', 'db', '--cloud', 'openstack', '--to', 'ctl2', '--verify']);
  expect(JSON.parse(v.stdout)).toMatchObject({ backupId, verification: 'VERIFIED' });
  const cp = await cli(own.configFile, ['--json', 'backup', 'control-plane', '--cloud', 'openstack']);
  expect(cp.exitCode).toBe(0);
  const cpId = (JSON.parse(cp.stdout) as { backupId: string }).backupId;

  const t0 = Date.now();
  const r = await cli(own.configFile, ['--json', 'dr', 'drill', '--cloud', 'openstack', '--wait']);
  const wall = (Date.now() - t0) / 1000;
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  const { record, recordPath, reportPath } = JSON.parse(r.stdout) as DrDrillResult;
  passed = record;
  expect(record).toMatchObject({
    kind: 'drill',
    cloud: 'openstack',
    result: 'passed',
    breaches: [],
    targets: { rtoSeconds: 600, rpoSeconds: 604_800 },
    restorePoint: { id: backupId, verification: 'VERIFIED' },
  });
  expect(record.steps.map((s) => [s.name, s.result])).toEqual([
    ['restore database', 'ok'],
    ['integrity checks', 'ok'],
    ['control plane', 'ok'],
  ]);
  // the control plane: hashes re-read, the Kolla tree unpacked into a scratch folder on ctl2 and compared, then removed
  expect(record.checks.find((c) => c.name === `hashes of control-plane backup ${cpId}`)).toMatchObject({
    ok: true,
    actual: 'CHECKED',
  });
  expect(record.steps[2]!.detail).toMatch(
    new RegExp(
      `Kolla tree unpacked into \\S+/ctl2/restore/${record.id}-control-plane \\(\\d+ files, equal to the backup\\), then removed`,
    ),
  );
  expect(existsSync(join(ctl2Dir(), 'restore', `${record.id}-control-plane`))).toBe(false);
  // RTO: the steps' wall time, less than the command's; each step measured
  expect(record.rtoSeconds).toBeGreaterThan(1);
  expect(record.rtoSeconds).toBeLessThan(wall);
  expect(record.rtoSeconds).toBeCloseTo(
    record.steps.reduce((n, s) => n + s.seconds, 0),
    0,
  );
  // RPO: no binlog archive here, so drill start minus the backup's consistency time
  const bp = JSON.parse(
    readFileSync(join(own.repo, 'clouds/openstack/database', backupId, 'manifest.json'), 'utf8'),
  ) as { completedAt: string };
  expect(record.rpoSeconds).toBeCloseTo((Date.parse(record.startedAt) - Date.parse(bp.completedAt)) / 1000, 1);
  // the seed's counts, read on ctl2 by the drill, equal os1's live ones (the source), read here independently
  const source = await liveFacts('os1', SEED);
  const drilled = await liveFacts('ctl2', SEED);
  for (const t of SEED) {
    const c = record.checks.find((x) => x.name === `SELECT COUNT(*) FROM ${t}`)!;
    expect(c).toMatchObject({ ok: true, expected: String(source[t]!.rows), actual: String(source[t]!.rows) });
    expect(drilled[t]).toEqual(source[t]);
    expect(record.checks.find((x) => x.name === `CHECKSUM TABLE ${t}`)).toMatchObject({
      ok: true,
      actual: source[t]!.checksum,
    });
  }
  expect(record.checks.every((c) => c.ok)).toBe(true);
  // the record and its report, in the repository
  expect(recordPath).toBe(join(own.repo, 'clouds/openstack/drills', record.id, 'drill.json'));
  expect(JSON.parse(readFileSync(recordPath, 'utf8'))).toEqual(record);
  const md = readFileSync(reportPath, 'utf8');
  expect(md).toContain(`# DR drill ${record.id} — PASSED`);
  expect(md).toContain(`| RTO (restore + checks) | ${record.rtoSeconds.toFixed(1)} s | 600 s | yes |`);
  expect(md).toContain(
    `| SELECT COUNT(*) FROM keystone.project | yes | ${source['keystone.project']!.rows} | ${source['keystone.project']!.rows} |`,
  );
  process.stdout.write(
    `drill RTO ${record.rtoSeconds.toFixed(1)} s (${record.steps.map((s) => `${s.name} ${s.seconds.toFixed(1)} s`).join(', ')}), RPO ${record.rpoSeconds!.toFixed(1)} s, command ${wall.toFixed(1)} s\n`,
  );
}, 240_000);

test('an RTO target below the measured value fails the drill: the breach in the record, the report and the error', async () => {
  expect(passed).toBeDefined();
  await worker!.stop();
  worker = await startWorker(tightConfig);
  const r = await cli(tightConfig, ['dr', 'drill', '--cloud', 'openstack', '--wait']);
  expect(r.exitCode).toBe(1);
  expect(r.stderr).toMatch(
    /\[DrillFailed\] DR drill drill-\S+ of cloud openstack FAILED: RTO \d+\.\d s exceeds the target 1 s/,
  );
  const last = drills().at(-1)!;
  expect(last.id).not.toBe(passed.id);
  expect(last).toMatchObject({ result: 'failed', targets: { rtoSeconds: 1 }, restorePoint: { id: backupId } });
  expect(last.breaches).toEqual([`RTO ${last.rtoSeconds.toFixed(1)} s exceeds the target 1 s`]);
  expect(r.stderr).toContain(last.breaches[0]);
  expect(r.stderr).toContain(join(own.repo, 'clouds/openstack/drills', last.id, 'drill.json'));
  const md = readFileSync(join(own.repo, 'clouds/openstack/drills', last.id, 'REPORT.md'), 'utf8');
  expect(md).toContain('— FAILED');
  expect(md).toContain(`## Breaches\n\n- ${last.breaches[0]}`);
}, 240_000);

test('osbackup status --json shows the restore points and the failed drill, and exits 7', async () => {
  const r = await cli(tightConfig, ['--json', 'status', '--cloud', 'openstack']);
  expect(r.exitCode).toBe(7);
  const s = JSON.parse(r.stdout) as { recovery: RecoveryStatus };
  const last = drills().at(-1)!;
  expect(s.recovery.components.find((c) => c.component === 'database')).toMatchObject({
    newestVerified: { id: backupId },
    newest: { id: backupId },
  });
  expect(s.recovery.drill).toMatchObject({
    configured: true,
    rtoTargetSeconds: 1,
    overdue: false,
    last: { id: last.id, result: 'failed', rtoSeconds: last.rtoSeconds },
  });
  expect(s.recovery.rpo).toMatchObject({ via: 'newest backup', targetSeconds: 604_800, met: true });
  expect(s.recovery.breaches).toEqual([`the last drill ${last.id} FAILED: ${last.breaches[0]}`]);
  const text = await cli(tightConfig, ['status', '--cloud', 'openstack']);
  expect(text.exitCode).toBe(7);
  expect(text.stdout).toMatch(new RegExp(`drill +${last.id} FAILED, RTO`));
  expect(text.stdout).toContain('BREACHED (1)');
  // every cloud at once, for monitoring: the other lab clouds (nothing in this repository, no drill section) breach nothing
  const all = await cli(tightConfig, ['--json', 'status', '--all']);
  expect(all.exitCode).toBe(7);
  const clouds = (JSON.parse(all.stdout) as { clouds: { cloud: string; recovery: RecoveryStatus }[] }).clouds;
  expect(clouds.find((c) => c.cloud === 'openstack')!.recovery.ok).toBe(false);
  expect(clouds.filter((c) => c.cloud !== 'openstack').map((c) => [c.cloud, c.recovery.ok])).toEqual(
    clouds.filter((c) => c.cloud !== 'openstack').map((c) => [c.cloud, true]),
  );
  expect(clouds.length).toBeGreaterThan(1);
}, 60_000);
