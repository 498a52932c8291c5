// Importing Kolla-Ansible's mariadb_backup files on the real lab. The backups are made exactly
// as kolla's mariadb-server/backup.sh (Kolla 12–20) makes them — same mariabackup flags
// (--history, --incremental-history-name from last_full_date), gzip, same names — with the
// real mariabackup in ctl3's `mariadb` container. That container stands in for Kolla's
// one-shot `mariabackup` container (same image, same server, same /etc/mysql/my.cnf); the
// folder on ctl3 stands for the mariadb_backup volume's _data.
// Then: damaged originals refused with a named cause and nothing published; the real ones
// imported (LSN-linked, byte-equal xbstream, in the catalog, marked imported, accepted by
// retention); a second run imports nothing; osbackup restores the imported chain into ctl3's
// container and the rows equal those at the incremental.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { ArtifactManifest } from '../../core/manifest/manifest.js';
import type { ImportResult } from '../../workflows/import-backups.js';
import { planRetention, retentionArtifactFromManifest } from '../../core/retention/plan.js';
import { retentionPolicySchema } from '../../core/retention/policy.js';
import { cli, configWithOwnRepo, labDir, onLabHost, startWorker, type WorkerProcess } from '../helpers/lab.js';

const base = `/var/tmp/osb-import-${process.pid}`;
const volume = `${base}/mariadb_backup/_data`; // what /var/lib/docker/volumes/mariadb_backup/_data is on a Kolla host
const damaged = `${base}/damaged/_data`;
let own: ReturnType<typeof configWithOwnRepo>;
let worker: WorkerProcess;
let historyExisted = false;
let atIncremental = '';
let asideDir: string | null = null;
const files: { full: string; inc: string } = { full: '', inc: '' };

async function on3(command: string, input?: string): Promise<string> {
  const r = await onLabHost('ctl3', command, input);
  if (r.exitCode !== 0) throw new Error(`ctl3: ${command}: ${Buffer.from(r.stderr).toString()}`);
  return Buffer.from(r.stdout).toString();
}
const sql3 = (statement: string) => on3('docker exec -i mariadb mariadb -N -B', statement);
const probeRows = () => sql3('SELECT id, v, n FROM import_probe.t ORDER BY id; CHECKSUM TABLE import_probe.t;');

// kolla's backup_full / backup_incremental, with BACKUP_DIR the volume folder and the
// mariabackup container replaced by `docker exec mariadb`
const KOLLA_FULL = `set -eu; set -o pipefail; BACKUP_DIR=${volume}
LAST_FULL_DATE=$(date +%d-%m-%Y)
docker exec mariadb mariabackup --defaults-file=/etc/mysql/my.cnf --backup --stream=xbstream --history=$LAST_FULL_DATE 2>>${base}/mariabackup.log | gzip > $BACKUP_DIR/mysqlbackup-$(date +%d-%m-%Y-%s).qp.xbc.xbs.gz
echo $LAST_FULL_DATE > $BACKUP_DIR/last_full_date`;
const KOLLA_INCREMENTAL = `set -eu; set -o pipefail; BACKUP_DIR=${volume}
if [ -r $BACKUP_DIR/last_full_date ]; then LAST_FULL_DATE=$(cat $BACKUP_DIR/last_full_date); fi
if [ -z $LAST_FULL_DATE ]; then LAST_FULL_DATE=$(date +%d-%m-%Y); fi
docker exec mariadb mariabackup --defaults-file=/etc/mysql/my.cnf --backup --stream=xbstream --incremental-history-name=$LAST_FULL_DATE --history=$LAST_FULL_DATE 2>>${base}/mariabackup.log | gzip > $BACKUP_DIR/incremental-$(date +%H)-mysqlbackup-$(date +%d-%m-%Y-%s).qp.xbc.xbs.gz`;

const manifestOf = (id: string) =>
  JSON.parse(readFileSync(join(own.repo, 'clouds/kolla/database', id, 'manifest.json'), 'utf8')) as ArtifactManifest;

async function importKolla(dir: string): Promise<{ code: number | undefined; r: ImportResult; stderr: string }> {
  const t0 = Date.now();
  const run = await cli(own.configFile, [
    '--json',
    'import',
    'kolla',
    '--cloud',
    'kolla',
    '--host',
    'ctl3',
    '--dir',
    dir,
  ]);
  console.log(`osbackup import kolla --dir ${dir}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (!run.stdout) throw new Error(`import printed nothing (exit ${run.exitCode}): ${run.stderr}`);
  return { code: run.exitCode, r: JSON.parse(run.stdout) as ImportResult, stderr: run.stderr };
}

beforeAll(async () => {
  const t0 = Date.now();
  own = configWithOwnRepo('import');
  worker = await startWorker(own.configFile);
  historyExisted =
    (
      await sql3(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='mysql' AND table_name='mariadb_backup_history'",
      )
    ).trim() === '1';
  await on3(`rm -rf ${base} && mkdir -p ${volume} ${damaged}`);
  // rows of this test's own, in a database of its own
  await sql3(`DROP DATABASE IF EXISTS import_probe; CREATE DATABASE import_probe; CREATE TABLE import_probe.t (id INT PRIMARY KEY, v VARCHAR(64), n BIGINT) ENGINE=InnoDB; USE import_probe;
    INSERT INTO import_probe.t SELECT seq, md5(seq), seq * 7 FROM seq_1_to_5000;`);
  await on3(`bash -c '${KOLLA_FULL.replace(/'/g, `'\\''`)}'`);
  // changes between the full and the incremental: the incremental must carry them
  await sql3(
    `USE import_probe; UPDATE import_probe.t SET v = 'changed after the full' WHERE id % 3 = 0; DELETE FROM import_probe.t WHERE id % 10 = 1; INSERT INTO import_probe.t SELECT 10000 + seq, sha1(seq), seq FROM seq_1_to_700;`,
  );
  await new Promise((r) => setTimeout(r, 1100)); // Kolla names carry seconds: two backups, two names
  await on3(`bash -c '${KOLLA_INCREMENTAL.replace(/'/g, `'\\''`)}'`);
  atIncremental = await probeRows();
  // and the database moves on: the restore must bring back the incremental's state
  await sql3(`DELETE FROM import_probe.t WHERE id > 4000; UPDATE import_probe.t SET n = -1;`);
  const names = (await on3(`ls ${volume}`)).trim().split('\n');
  files.full = names.find((n) => n.startsWith('mysqlbackup-'))!;
  files.inc = names.find((n) => n.startsWith('incremental-'))!;
  console.log(`worker + Kolla full + changes + Kolla incremental: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await sql3('DROP DATABASE IF EXISTS import_probe').catch(() => undefined);
  if (!historyExisted) await sql3('DROP TABLE IF EXISTS mysql.mariadb_backup_history').catch(() => undefined);
  await on3(`rm -rf ${base}${asideDir ? ` ${asideDir}` : ''}`).catch(() => undefined);
  rmSync(own.dir, { recursive: true, force: true });
});

test('the backups are what Kolla makes: full and incremental, named as Kolla names them', async () => {
  expect(files.full).toMatch(/^mysqlbackup-\d{2}-\d{2}-\d{4}-\d+\.qp\.xbc\.xbs\.gz$/);
  expect(files.inc).toMatch(/^incremental-\d{2}-mysqlbackup-\d{2}-\d{2}-\d{4}-\d+\.qp\.xbc\.xbs\.gz$/);
  expect((await on3(`cat ${volume}/last_full_date`)).trim()).toMatch(/^\d{2}-\d{2}-\d{4}$/);
  // mariabackup found the full through the history table, as Kolla relies on
  expect(await on3(`cat ${base}/mariabackup.log`)).toMatch(/Found and using lsn: \d+ for name \d{2}-\d{2}-\d{4}/);
});

test('damaged originals are refused by name and nothing is published', async () => {
  const epoch = Number(/-(\d+)\.qp/.exec(files.full)![1]);
  const date = /mysqlbackup-(\d{2}-\d{2}-\d{4})/.exec(files.full)![1];
  // a download cut short (gzip truncated), and a gzip that is whole but holds a cut xbstream
  await on3(`cd ${volume} && size=$(stat -c %s ${files.full}) && head -c $((size / 2)) ${files.full} > ${damaged}/mysqlbackup-${date}-${epoch - 60}.qp.xbc.xbs.gz
    gzip -dc ${volume}/${files.full} | head -c 1000000 | gzip > ${damaged}/mysqlbackup-${date}-${epoch - 30}.qp.xbc.xbs.gz
    cp ${volume}/${files.inc} ${damaged}/ && echo junk > ${damaged}/mysqlbackup-notes.txt`);
  const { code, r, stderr } = await importKolla(damaged);
  expect(code).toBe(1);
  expect(r.imported).toEqual([]);
  const byFile = Object.fromEntries(r.problems.map((p) => [p.original, p]));
  expect(byFile[`mysqlbackup-${date}-${epoch - 60}.qp.xbc.xbs.gz`]).toMatchObject({
    type: 'ImportSourceCorrupt',
    reason: expect.stringContaining('is not a whole gzip file (gzip: stdin: unexpected end of file)'),
  });
  expect(byFile[`mysqlbackup-${date}-${epoch - 30}.qp.xbc.xbs.gz`]).toMatchObject({
    type: 'ImportSourceCorrupt',
    reason: expect.stringMatching(/does not hold a whole mariabackup xbstream: .*truncated/),
  });
  // its full is not importable: the incremental is not imported as part of a chain
  expect(byFile[files.inc]).toMatchObject({
    type: 'ChainBroken',
    reason: expect.stringContaining('no backup in the repository or in this import ends at that LSN'),
  });
  expect(byFile['mysqlbackup-notes.txt']).toMatchObject({ type: 'NotImportable' });
  expect(stderr).toBe('');
  // nothing published, nothing left staged
  expect(readdirSync(own.repo).filter((d) => d !== '.staging' && d !== 'catalog')).toEqual([]);
  expect(readdirSync(join(own.repo, '.staging'))).toEqual([]);
});

test('the full and the incremental are imported, linked by LSN, byte-equal, in the catalog', async () => {
  const { code, r } = await importKolla(volume);
  expect(code).toBe(0);
  expect(r.problems).toEqual([]);
  expect(r.imported.map((i) => [i.original, i.kind])).toEqual([
    [files.full, 'full'],
    [files.inc, 'incremental'],
  ]);
  const [full, inc] = r.imported.map((i) => manifestOf(i.id));
  expect(inc!.parentId).toBe(full!.id);
  expect(inc!.mariadb.checkpoints.fromLsn).toBe(full!.mariadb.checkpoints.toLsn);
  expect(full!.mariadb.checkpoints.backupType).toBe('full-backuped');
  expect(inc!.mariadb.checkpoints.backupType).toBe('incremental');
  expect(full!.mariadb.mariabackupVersion).toMatch(/^10\.11\./);
  // the names' epochs become the backups' times
  expect(full!.startedAt).toBe(new Date(Number(/-(\d+)\.qp/.exec(files.full)![1]) * 1000).toISOString());
  for (const [m, f] of [
    [full!, files.full],
    [inc!, files.inc],
  ] as const) {
    const sha = (await on3(`sha256sum ${volume}/${f}`)).slice(0, 64);
    expect(m.imported).toMatchObject({
      source: 'kolla-mariadb_backup',
      host: 'ctl3',
      path: `${volume}/${f}`,
      originalSha256: sha,
      decoded: ['gzip -d'],
    });
    expect(m.imported!.originalBytes).toBe(Number((await on3(`stat -c %s ${volume}/${f}`)).trim()));
    // the stored artifact opens with the stock recipe and holds exactly the xbstream inside Kolla's gzip
    const dir = join(own.repo, 'clouds/kolla/database', m.id);
    const opened = await execa(
      'bash',
      [
        '-c',
        `set -o pipefail; gpg --batch --quiet --pinentry-mode loopback --passphrase-file ${join(labDir(), 'secrets/backup-passphrase')} --decrypt ${dir}/data.xb.zst.gpg | zstd -dq | sha256sum`,
      ],
      { env: { GNUPGHOME: own.dir } },
    );
    expect(opened.stdout.slice(0, 64)).toBe((await on3(`gzip -dc ${volume}/${f} | sha256sum`)).slice(0, 64));
    expect(m.artifact.sha256).toBe(
      createHash('sha256')
        .update(readFileSync(join(dir, 'data.xb.zst.gpg')))
        .digest('hex'),
    );
    expect(readFileSync(join(dir, 'RESTORE.md'), 'utf8')).toContain(
      `**Imported** (kolla-mariadb_backup) from \`ctl3:${volume}/${f}\``,
    );
  }
  const list = JSON.parse((await cli(own.configFile, ['--json', 'catalog', 'list', '--cloud', 'kolla'])).stdout) as {
    id: string;
    kind: string;
    imported: string | null;
  }[];
  expect(
    list
      .filter((e) => e.imported === 'kolla-mariadb_backup')
      .map((e) => [e.id, e.kind])
      .sort(),
  ).toEqual(
    [
      [full!.id, 'full'],
      [inc!.id, 'incremental'],
    ].sort(),
  );
  // retention takes them as ordinary restore points: the chain is whole, both kept
  const plan = planRetention({
    artifacts: [full!, inc!].map(retentionArtifactFromManifest),
    policy: retentionPolicySchema.parse({}),
    now: new Date(),
  });
  expect(plan.problems).toEqual([]);
  expect(plan.keep.map((k) => k.id).sort()).toEqual([full!.id, inc!.id].sort());
});

test("the imported chain's restore.sh prepares it with stock tools only (osbackup and Node off PATH)", async () => {
  const incId = readdirSync(join(own.repo, 'clouds/kolla/database')).find((d) => d.startsWith('db-incremental-'))!;
  const work = join(own.dir, 'hand');
  const env = {
    PATH: '/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin',
    PASSPHRASE_FILE: join(labDir(), 'secrets/backup-passphrase'),
    WORK_DIR: work,
    STOP_AFTER: 'prepare',
    GNUPGHOME: own.dir,
  };
  const run = await execa('bash', [join(own.repo, 'clouds/kolla/database', incId, 'restore.sh')], {
    env,
    extendEnv: false,
    reject: false,
    cwd: '/',
  });
  expect(run.stderr).toBe('');
  expect(run.exitCode).toBe(0);
  expect(run.stdout).toContain('applying 1 incremental(s) in order');
  expect(readFileSync(join(work, '0/xtrabackup_checkpoints'), 'utf8')).toMatch(/backup_type = log-applied/);
  rmSync(work, { recursive: true, force: true });
});

test('a second run imports nothing new', async () => {
  const { code, r } = await importKolla(volume);
  expect(code).toBe(0);
  expect(r.imported).toEqual([]);
  expect(r.already.map((a) => a.original).sort()).toEqual([files.full, files.inc].sort());
  expect(readdirSync(join(own.repo, 'clouds/kolla/database'))).toHaveLength(2);
});

test('osbackup restores the imported chain into the Kolla container: the rows are those of the incremental', async () => {
  const incId = readdirSync(join(own.repo, 'clouds/kolla/database')).find((d) => d.startsWith('db-incremental-'))!;
  expect(await probeRows()).not.toBe(atIncremental);
  const run = await cli(own.configFile, [
    '--json',
    'restore',
    'db',
    '--cloud',
    'kolla',
    '--to',
    'ctl3',
    '--backup',
    incId,
  ]);
  expect(run.stderr).toBe('');
  const res = JSON.parse(run.stdout) as {
    chain: string[];
    verification: string;
    verificationNote: string;
    asideDir: string | null;
  };
  asideDir = res.asideDir;
  expect(res.chain).toHaveLength(2);
  expect(res.chain[1]).toBe(incId);
  // nothing was recorded to compare with: said so, not claimed VERIFIED
  expect(res.verification).toBe('SKIPPED');
  expect(res.verificationNote).toContain('imported from kolla-mariadb_backup');
  expect(await probeRows()).toBe(atIncremental);
});

test('Kolla 21+ backups (a folder per backup, incrementals on an extracted base) are imported and linked too', async () => {
  const dir = `${base}/kolla21/_data`;
  // kolla's current backup.sh: full-<date-epoch>/…, last_full_file, then the incremental on
  // the full unpacked into a temporary folder (inside the container, where mariabackup runs)
  const tmp = `/tmp/osb-import-${process.pid}-base`;
  await on3(`set -eu; set -o pipefail; BACKUP_DIR=${dir}; mkdir -p $BACKUP_DIR
    LAST_FULL_DATE=$(date +%d-%m-%Y-%s); BACKUP_PATH=$BACKUP_DIR/full-$LAST_FULL_DATE; mkdir -p $BACKUP_PATH
    docker exec mariadb mariabackup --defaults-file=/etc/mysql/my.cnf --backup --stream=xbstream --history=$LAST_FULL_DATE 2>>${base}/mariabackup.log | gzip > $BACKUP_PATH/mysqlbackup-$LAST_FULL_DATE.qp.xbc.xbs.gz
    echo $BACKUP_PATH/mysqlbackup-$LAST_FULL_DATE.qp.xbc.xbs.gz > $BACKUP_DIR/last_full_file
    sleep 1
    FULL_BACKUP_FILE=$(cat $BACKUP_DIR/last_full_file); LAST_FULL_DATE=$(basename "$(dirname "$FULL_BACKUP_FILE")" | sed 's/^full-//')
    NOW=$(date +%H-%M-%S-%d-%m-%Y); INCR_DIR=$BACKUP_DIR/incr-$NOW-since-$LAST_FULL_DATE; mkdir -p $INCR_DIR
    gunzip -c $FULL_BACKUP_FILE | docker exec -i mariadb sh -c 'mkdir -p ${tmp} && mbstream -x -C ${tmp}'
    docker exec mariadb mariabackup --defaults-file=/etc/mysql/my.cnf --backup --stream=xbstream --incremental-basedir=${tmp} --history=incr-$NOW 2>>${base}/mariabackup.log | gzip > $INCR_DIR/incremental-$NOW-mysqlbackup-$LAST_FULL_DATE.qp.xbc.xbs.gz
    docker exec mariadb rm -rf ${tmp}`);
  const { code, r } = await importKolla(dir);
  expect(r.problems).toEqual([]);
  expect(code).toBe(0);
  expect(r.imported.map((i) => [i.original.split('/')[0]!.replace(/-\d.*/, ''), i.kind])).toEqual([
    ['full', 'full'],
    ['incr', 'incremental'],
  ]);
  expect(r.imported[1]!.parentId).toBe(r.imported[0]!.id);
  expect(manifestOf(r.imported[1]!.id).mariadb.checkpoints.fromLsn).toBe(
    manifestOf(r.imported[0]!.id).mariadb.checkpoints.toLsn,
  );
});
