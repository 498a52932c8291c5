// `osbackup preflight` on the real lab, as CI calls it before an upgrade: a real full backup of
// ctl1, a real control-plane backup (ctl2's Keystone keys and RabbitMQ definitions), both
// re-read from the repository, the backup restored onto ctl2 and compared (--prove) → exit 0
// with the ids the catalog now shows CHECKED and VERIFIED. With the database host unreachable
// the gate exits 5 ("backup failed") once its timeout has passed, naming the run to read.
import { rmSync } from 'node:fs';
import type { CatalogEntry } from '../../core/catalog/catalog.js';
import type { PreflightResult } from '../../workflows/preflight.js';
import { cli, configWithOwnRepo, startWorker, type WorkerProcess } from '../helpers/lab.js';

let own: ReturnType<typeof configWithOwnRepo>;
let worker: WorkerProcess;

beforeAll(async () => {
  own = configWithOwnRepo('preflight', (c) => {
    const lab = c.clouds.lab;
    // the lab cloud gets a control plane: ctl2's Keystone keys and RabbitMQ, as the kolla cloud describes them
    const k = c.clouds.kolla.hosts.ctl2;
    lab.hosts.ctl2.keystone = k.keystone;
    lab.hosts.ctl2.rabbitmq = k.rabbitmq;
    lab.controlPlane = { keystoneHosts: ['ctl2'] };
    lab.rabbitmq = { host: 'ctl2' };
    lab.preflight = { proveOn: 'ctl2', maxAgeMinutes: 30 };
    // and an unreachable twin of it: ctl1 at an address nobody answers on
    c.clouds.gone = structuredClone(lab);
    c.clouds.gone.hosts.ctl1.address = '10.231.77.250';
    delete c.clouds.gone.preflight;
  });
  worker = await startWorker(own.configFile);
});

afterAll(async () => {
  await worker?.stop();
  if (own) rmSync(own.dir, { recursive: true, force: true });
});

test('success: fresh full + control-plane backup, re-read CHECKED, proven VERIFIED on ctl2 → exit 0', async () => {
  const r = await cli(own.configFile, ['--json', 'preflight', '--cloud', 'lab', '--prove']);
  expect(r.stderr).not.toContain('FAILED');
  expect(r.exitCode).toBe(0);
  const p = JSON.parse(r.stdout) as PreflightResult;
  expect(p.ok).toBe(true);
  expect(p.checks.map((c) => c.result)).toEqual(['CHECKED', 'CHECKED']);
  expect(p.proof).toMatchObject({ host: 'ctl2', verification: 'VERIFIED' });
  expect(p.proof!.tables).toBeGreaterThan(0);
  expect(p.verdict).toEqual({
    ok: true,
    database: p.database!.backupId,
    controlPlane: p.controlPlane!.backupId,
    problems: [],
  });

  const rows = JSON.parse(
    (await cli(own.configFile, ['--json', 'catalog', 'list', '--cloud', 'lab'])).stdout,
  ) as CatalogEntry[];
  expect(rows.find((x) => x.id === p.database!.backupId)).toMatchObject({ kind: 'full', verification: 'VERIFIED' });
  expect(rows.find((x) => x.id === p.controlPlane!.backupId)).toMatchObject({ component: 'control-plane' });
});

test('the database host unreachable: exit 5 (backup failed) once the timeout passes, naming the run to read', async () => {
  const t0 = Date.now();
  const r = await cli(own.configFile, ['preflight', '--cloud', 'gone', '--timeout', '20s']);
  const seconds = (Date.now() - t0) / 1000;
  expect(r.exitCode).toBe(5);
  expect(r.stdout).toContain('preflight FAILED for cloud gone at "backup"');
  expect(r.stdout).toMatch(/osbackup logs/);
  // it waited for the backup to succeed (it was retrying the SSH connection), then gave up
  expect(seconds).toBeGreaterThan(15);
  expect(seconds).toBeLessThan(120);
});
