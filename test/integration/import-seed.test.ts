// Importing the seed's own backups on the real lab: folders made as the seed makes them
// (`docker exec mariadb mariabackup --backup --target-dir=…`, an incremental with
// --incremental-basedir), one encrypted with the seed's OpenSSL recipe (`tar czf` then
// `openssl enc -aes-256-cbc -salt -pbkdf2 -pass file:…`), and the seed's catalog.csv rows
// (`date -u …,database,full,<path>,$(du -sh),$(sha256sum)`). The database rows are imported
// and chained; a missing folder, a wrong checksum and a config row are reported, never dropped.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { ArtifactManifest } from '../../core/manifest/manifest.js';
import type { ImportResult } from '../../workflows/import-backups.js';
import { cli, configWithOwnRepo, labDir, onLabHost, startWorker, type WorkerProcess } from '../helpers/lab.js';

const root = `/var/tmp/osb-seed-${process.pid}`;
const base = `${root}/opt/openstack-backups`; // the seed's /opt/openstack-backups
const db = `${base}/database`;
const inContainer = `/tmp/osb-seed-${process.pid}`;
let own: ReturnType<typeof configWithOwnRepo>;
let worker: WorkerProcess;
const passFile = `${root}/backup-passphrase`; // the seed's /root/.backup-passphrase (the worker reads the same path)
const names = {
  full: 'full_20261101_020000',
  inc: 'inc_20261102_020000',
  enc: 'full_20261103_020000.tar.gz.enc',
  bad: 'full_20261104_020000.tar.gz.enc',
};

async function on3(command: string): Promise<string> {
  const r = await onLabHost('ctl3', command);
  if (r.exitCode !== 0) throw new Error(`ctl3: ${command}: ${Buffer.from(r.stderr).toString()}`);
  return Buffer.from(r.stdout).toString();
}

async function importSeed(): Promise<{ code: number | undefined; r: ImportResult }> {
  const run = await cli(own.configFile, [
    '--json',
    'import',
    'seed',
    '--cloud',
    'kolla',
    '--host',
    'ctl3',
    '--catalog',
    `${base}/catalog.csv`,
    '--passphrase-file',
    passFile,
  ]);
  if (!run.stdout) throw new Error(`import printed nothing (exit ${run.exitCode}): ${run.stderr}`);
  return { code: run.exitCode, r: JSON.parse(run.stdout) as ImportResult };
}

beforeAll(async () => {
  own = configWithOwnRepo('import-seed');
  worker = await startWorker(own.configFile);
  await on3(
    `rm -rf ${root} && mkdir -p ${db} ${base}/config/kolla_20261101 && head -c 24 /dev/urandom | base64 > ${passFile} && echo 'enable_cinder: "yes"' > ${base}/config/kolla_20261101/globals.yml`,
  );
  // the seed's backup-databases.sh (its /backup being where the folders land on the host)
  await on3(`set -e; docker exec mariadb mkdir -p ${inContainer}
    docker exec mariadb mariabackup --backup --target-dir=${inContainer}/${names.full} --user=root 2>>${root}/mariabackup.log
    docker exec mariadb mariabackup --backup --target-dir=${inContainer}/${names.inc} --incremental-basedir=${inContainer}/${names.full} --user=root 2>>${root}/mariabackup.log
    docker cp mariadb:${inContainer}/${names.full} ${db}/ && docker cp mariadb:${inContainer}/${names.inc} ${db}/ && docker exec mariadb rm -rf ${inContainer}
    cd ${db} && tar czf - -C ${names.full} . | openssl enc -aes-256-cbc -salt -pbkdf2 -pass file:${passFile} -out ${names.enc} && cp ${names.enc} ${names.bad}`);
  // catalog.csv as the seed appends it (sha256sum of a folder prints nothing: the column is empty)
  const row = (ts: string, type: string, level: string, path: string, sum?: string) =>
    `echo "${ts},${type},${level},${path},$(du -sh ${path} | cut -f1),${sum ?? `$(sha256sum ${path} 2>/dev/null | cut -d' ' -f1)`}" >> ${base}/catalog.csv`;
  await on3(
    [
      `echo timestamp,type,level,path,size,checksum > ${base}/catalog.csv`,
      row('2026-11-01T02:00:09Z', 'database', 'full', `${db}/${names.full}`),
      row('2026-11-01T02:30:01Z', 'config', 'full', `${base}/config/kolla_20261101`),
      row('2026-11-02T02:00:05Z', 'database', 'incremental', `${db}/${names.inc}`),
      row('2026-11-03T02:00:07Z', 'database', 'full', `${db}/${names.enc}`),
      row('2026-11-04T02:00:07Z', 'database', 'full', `${db}/${names.bad}`, '0'.repeat(64)),
      `echo "2026-11-05T02:00:03Z,database,full,${db}/full_20261105_020000,1.1G," >> ${base}/catalog.csv`, // rotated away behind the catalog's back
    ].join(' && '),
  );
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await on3(`rm -rf ${root}; docker exec mariadb rm -rf ${inContainer}`).catch(() => undefined);
  rmSync(own.dir, { recursive: true, force: true });
});

test("the seed's database backups are imported and chained; what cannot be is reported with the reason", async () => {
  const { code, r } = await importSeed();
  expect(code).toBe(1); // some entries were not imported
  expect(r.imported.map((i) => [i.original, i.kind])).toEqual([
    [`${db}/${names.full}`, 'full'],
    [`${db}/${names.inc}`, 'incremental'],
    [`${db}/${names.enc}`, 'full'],
  ]);
  expect(r.imported[1]!.parentId).toBe(r.imported[0]!.id);
  const problems = Object.fromEntries(r.problems.map((p) => [p.original.replace(/ \(line \d+\)$/, ''), p.type]));
  expect(problems).toEqual({
    [`${base}/config/kolla_20261101`]: 'NotImportable',
    [`${db}/${names.bad}`]: 'ChecksumMismatch',
    [`${db}/full_20261105_020000`]: 'BackupNotFound',
  });
  expect(r.problems.find((p) => p.type === 'ChecksumMismatch')!.reason).toContain(`not the expected ${'0'.repeat(64)}`);

  const manifest = (id: string) =>
    JSON.parse(readFileSync(join(own.repo, 'clouds/kolla/database', id, 'manifest.json'), 'utf8')) as ArtifactManifest;
  const [full, inc, enc] = r.imported.map((i) => manifest(i.id));
  expect(inc!.mariadb.checkpoints.fromLsn).toBe(full!.mariadb.checkpoints.toLsn);
  expect(full!.imported).toMatchObject({
    source: 'seed-catalog',
    host: 'ctl3',
    decoded: ['tar -c (on the host)', 'tar → xbstream'],
    catalogRow: { level: 'full', checksum: '' },
  });
  expect(enc!.imported).toMatchObject({
    decoded: ['openssl enc -d -aes-256-cbc -pbkdf2', 'gzip -d', 'tar → xbstream'],
    originalSha256: (await on3(`sha256sum ${db}/${names.enc}`)).slice(0, 64),
  });
  expect(full!.completedAt).toBe('2026-11-01T02:00:09.000Z');
  // the imported artifacts open with the stock recipe into exactly the seed's folder
  for (const m of [full!, enc!]) {
    const out = mkdtempSync(join(tmpdir(), 'osb-seed-out-'));
    try {
      await execa(
        'bash',
        [
          '-c',
          `set -o pipefail; gpg --batch --quiet --pinentry-mode loopback --passphrase-file ${join(labDir(), 'secrets/backup-passphrase')} --decrypt ${join(own.repo, 'clouds/kolla/database', m.id, 'data.xb.zst.gpg')} | zstd -dq | mbstream -x -C ${out}`,
        ],
        { env: { GNUPGHOME: own.dir } },
      );
      const diff = await execa('diff', ['-r', `${db}/${names.full}`, out], { reject: false });
      expect(diff.stdout).toBe('');
      expect(diff.exitCode).toBe(0);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
  expect(readdirSync(join(own.repo, '.staging'))).toEqual([]); // the refused ones left nothing behind
});

test('a second run imports nothing new and reports the same problems', async () => {
  const { code, r } = await importSeed();
  expect(code).toBe(1);
  expect(r.imported).toEqual([]);
  expect(r.already.map((a) => a.original)).toEqual([`${db}/${names.full}`, `${db}/${names.inc}`, `${db}/${names.enc}`]);
  expect(r.problems).toHaveLength(3);
  expect(readdirSync(join(own.repo, 'clouds/kolla/database'))).toHaveLength(3);
});
