// The Kolla-style host ctl3: MariaDB in a container named `mariadb` (docker exec path), its
// data in a volume folder owned by the container's mysql uid/gid.
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { cli, configWithOwnRepo, labDir, startWorker, type WorkerProcess } from '../helpers/lab.js';

const TABLES = ['keystone.project', 'nova.instances', 'neutron.ports'];
let own: ReturnType<typeof configWithOwnRepo>;
let worker: WorkerProcess;

/** SQL in the ctl3 container, as an operator would run it: ssh + docker exec. */
async function ctl3(sql: string): Promise<string> {
  const r = await execa(
    'ssh',
    [
      '-q',
      '-i',
      join(labDir(), 'keys/worker_ed25519'),
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      'root@10.231.77.13',
      'docker exec -i mariadb mariadb -N -B',
    ],
    { input: sql },
  );
  return r.stdout;
}

beforeAll(async () => {
  own = configWithOwnRepo('kolla');
  worker = await startWorker(own.configFile);
});
afterAll(async () => {
  await worker?.stop();
  rmSync(own.dir, { recursive: true, force: true });
});

test('full + incremental from the container, restored into the container volume with its uid/gid', async () => {
  const full = await cli(own.configFile, ['--json', 'backup', 'db', '--cloud', 'kolla', '--full', '--wait']);
  expect(full.stderr).toBe('');
  const f = JSON.parse(full.stdout) as { backupId: string; path: string };
  const m = JSON.parse(readFileSync(join(own.repo, f.path, 'manifest.json'), 'utf8')) as {
    source: { containerRuntime: string; host: string };
  };
  expect(m.source).toMatchObject({ host: 'ctl3', containerRuntime: 'docker' });

  const run = Date.now();
  await ctl3(
    `UPDATE nova.instances SET task_state='${run}' WHERE id % 3 = 0; DELETE FROM neutron.ports WHERE standard_attr_id % 4 = ${run % 4};`,
  );
  const inc = await cli(own.configFile, ['--json', 'backup', 'db', '--cloud', 'kolla', '--incremental', '--wait']);
  expect(JSON.parse(inc.stdout)).toMatchObject({ kind: 'incremental', parentId: f.backupId });
  const recorded = await ctl3(TABLES.map((t) => `SELECT '${t}', COUNT(*) FROM ${t}; CHECKSUM TABLE ${t};`).join('\n'));

  // the container now drifts away from the backup; the restore must bring it back
  await ctl3('DELETE FROM keystone.project LIMIT 5; CREATE DATABASE drift;');
  const r = await cli(own.configFile, ['--json', 'restore', 'db', '--cloud', 'kolla', '--to', 'ctl3']);
  expect(r.stderr).toBe('');
  const res = JSON.parse(r.stdout) as { verification: string; chain: string[]; asideDir: string };
  expect(res.chain).toHaveLength(2);
  expect(res.verification).toBe('VERIFIED');
  expect(await ctl3(TABLES.map((t) => `SELECT '${t}', COUNT(*) FROM ${t}; CHECKSUM TABLE ${t};`).join('\n'))).toBe(
    recorded,
  );
  expect(await ctl3("SHOW DATABASES LIKE 'drift'")).toBe('');

  // the restored files belong to the container's mysql user, as the server needs
  const cfg = parse(readFileSync(own.configFile, 'utf8')) as {
    clouds: { kolla: { hosts: { ctl3: { mariadb: { owner: string; datadir: string } } } } };
  };
  const { owner, datadir } = cfg.clouds.kolla.hosts.ctl3.mariadb;
  const st = statSync(join(datadir, 'ibdata1'));
  expect(`${st.uid}:${st.gid}`).toBe(owner);
  expect(owner).not.toBe('0:0');
});
