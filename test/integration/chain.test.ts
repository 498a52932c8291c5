// Incremental chains on the real lab: full → changes → incremental → changes → incremental,
// restored by osbackup and by the hand script with osbackup off PATH; broken chains refused.
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  openSync,
  readSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { ArtifactManifest } from '../../core/manifest/manifest.js';
import {
  cli,
  deriveConfig,
  labDir,
  liveFacts,
  sql,
  startWorker,
  type WorkerProcess,
  LAB_TABLES,
} from '../helpers/lab.js';

const TABLES = LAB_TABLES;
const work = mkdtempSync(join(tmpdir(), 'osb-chain-'));
const repo = join(work, 'repo');
let configFile: string;
let worker: WorkerProcess;
const ids: string[] = [];

const manifestOf = (id: string) =>
  JSON.parse(readFileSync(join(repo, 'clouds/lab/database', id, 'manifest.json'), 'utf8')) as ArtifactManifest;

async function backup(kind: 'full' | 'incremental') {
  const r = await cli(configFile, ['--json', 'backup', 'db', `--${kind}`, '--wait']);
  if (r.exitCode !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as {
    backupId: string;
    kind: string;
    parentId: string | null;
    fellBackToFull: string | null;
  };
}

beforeAll(async () => {
  // the live-facts option (database.facts: live): each member records the live server's counts
  // and checksums, which the restore and the hand script are compared with
  configFile = deriveConfig('chain', (c) => {
    c.repository.path = repo;
    c.clouds.lab.database.facts = 'live';
  });
  worker = await startWorker(configFile);
});
afterAll(async () => {
  await worker?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('full → changes → incremental → changes → incremental, each on the one before', async () => {
  const full = await backup('full');
  ids.push(full.backupId);
  const run = Date.now(); // the lab may be reused: every run changes rows of its own
  await sql(
    'ctl1',
    `UPDATE nova.instances SET vm_state='deleted', deleted=id, task_state='${run}' WHERE id % 7 = 0; INSERT INTO keystone.project SELECT md5(concat('${run}-',seq)), concat('${run}-',seq), '{}', 'added after the full', 1, 'default', NULL, 0 FROM keystone.seq_1_to_300`,
  );
  const inc1 = await backup('incremental');
  expect(inc1).toMatchObject({ kind: 'incremental', parentId: full.backupId });
  ids.push(inc1.backupId);
  await sql(
    'ctl1',
    `DELETE FROM neutron.ports WHERE standard_attr_id % 5 = ${run % 5}; UPDATE cinder.volumes SET status='available', attach_status='detached', display_description='${run}' WHERE size > 400`,
  );
  const inc2 = await backup('incremental');
  expect(inc2).toMatchObject({ kind: 'incremental', parentId: inc1.backupId });
  ids.push(inc2.backupId);
  const [m0, m1, m2] = ids.map(manifestOf);
  expect(m1!.mariadb.checkpoints.fromLsn).toBe(m0!.mariadb.checkpoints.toLsn);
  expect(m2!.mariadb.checkpoints.fromLsn).toBe(m1!.mariadb.checkpoints.toLsn);
  // the recorded facts are those of the live server at that point
  const live = await liveFacts('ctl1', TABLES);
  for (const t of m2!.tables) expect({ rows: t.rows, checksum: t.checksum }).toEqual(live[t.table]);
});

test('osbackup restores the chain to ctl2: every recorded count and checksum equal', async () => {
  const r = await cli(configFile, ['--json', 'restore', 'db', '--to', 'ctl2']);
  expect(r.stderr).toBe('');
  const res = JSON.parse(r.stdout) as { chain: string[]; verification: string; tables: { outcome: string }[] };
  expect(res.chain).toEqual(ids);
  expect(res.verification).toBe('VERIFIED');
  expect(res.tables.every((t) => t.outcome === 'equal')).toBe(true);
  expect(await liveFacts('ctl2', TABLES)).toEqual(await liveFacts('ctl1', TABLES));
});

test('the hand script restores the chain with osbackup off PATH', async () => {
  const dir = join(repo, 'clouds/lab/database', ids[2]!);
  const target = mkdtempSync(join(tmpdir(), 'osb-hand-'));
  const env = {
    PATH: '/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin', // no node, no osbackup
    PASSPHRASE_FILE: join(labDir(), 'secrets/backup-passphrase'),
    WORK_DIR: join(target, 'work'),
    DATADIR: join(target, 'data'),
    OWNER: 'root:root',
    GNUPGHOME: mkdtempSync(join(tmpdir(), 'osb-gnupg-')),
  };
  const run = await execa('bash', [join(dir, 'restore.sh')], { env, extendEnv: false, reject: false, cwd: '/' });
  expect(run.stderr).toBe('');
  expect(run.exitCode).toBe(0);
  expect(run.stdout).toContain('3/5 preparing the full backup, then applying 2 incremental(s) in order');
  // start a throwaway server on the restored files and read the facts back
  const cnf = join(target, 'my.cnf');
  writeFileSync(
    cnf,
    `[client]\nsocket=${target}/s.sock\nuser=root\n[mariadbd]\nuser=root\ndatadir=${target}/data\nsocket=${target}/s.sock\npid-file=${target}/m.pid\nlog-error=${target}/m.err\nskip-networking\nskip-log-bin\ninnodb_buffer_pool_size=128M\n`,
  );
  const server = execa('mariadbd', [`--defaults-file=${cnf}`], { reject: false });
  try {
    for (
      let i = 0;
      i < 150 && (await execa('mariadb-admin', [`--defaults-file=${cnf}`, 'ping'], { reject: false })).exitCode !== 0;
      i++
    )
      await new Promise((r) => setTimeout(r, 200));
    const q = TABLES.map((t) => `SELECT '${t}', (SELECT COUNT(*) FROM ${t}); CHECKSUM TABLE ${t};`).join('\n');
    const out = (await execa('mariadb', [`--defaults-file=${cnf}`, '-N', '-B', '-e', q])).stdout.split('\n');
    const m = manifestOf(ids[2]!);
    for (let i = 0; i < TABLES.length; i++) {
      const t = m.tables.find((x) => x.table === TABLES[i])!;
      expect(out[2 * i]).toBe(`${t.table}\t${t.rows}`);
      expect(out[2 * i + 1]).toBe(`${t.table}\t${t.checksum}`);
    }
  } finally {
    server.kill('SIGTERM');
    await server;
    await execa('gpgconf', ['--homedir', env.GNUPGHOME, '--kill', 'all']).catch(() => undefined);
    rmSync(target, { recursive: true, force: true });
  }
});

test('a corrupt artifact inside the chain is named, with the newest intact restore point; the target is untouched', async () => {
  const file = join(repo, 'clouds/lab/database', ids[1]!, 'data.xb.zst.gpg');
  const fd = openSync(file, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, 100);
  b[0] = b[0]! ^ 0x80;
  writeSync(fd, b, 0, 1, 100);
  const before = await liveFacts('ctl2', TABLES);
  try {
    const r = await cli(configFile, ['restore', 'db', '--to', 'ctl2']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`[ChecksumMismatch] artifact clouds/lab/database/${ids[1]}/data.xb.zst.gpg is corrupt`);
    expect(r.stderr).toContain(`Fix: restore ${ids[0]}, the newest restore point whose chain is intact`);
    expect(await liveFacts('ctl2', TABLES)).toEqual(before);
  } finally {
    b[0] = b[0]! ^ 0x80;
    writeSync(fd, b, 0, 1, 100);
    closeSync(fd);
  }
});

test('a missing parent breaks the chain: refused before the target is touched, and no incremental builds on it', async () => {
  const dir = join(repo, 'clouds/lab/database', ids[1]!);
  renameSync(dir, dir + '.away');
  try {
    const r = await cli(configFile, ['restore', 'db', '--to', 'ctl2', '--backup', ids[2]!]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(
      `[ChainBroken] cannot restore ${ids[2]}: incremental ${ids[2]} needs ${ids[1]}, which is missing from the repository`,
    );
    expect(r.stderr).toContain(`Fix: restore ${ids[0]} instead`);
    // the next incremental skips the broken member and builds on the intact full
    const inc = await backup('incremental');
    expect(inc.parentId).toBe(ids[0]);
    rmSync(join(repo, 'clouds/lab/database', inc.backupId), { recursive: true });
  } finally {
    renameSync(dir + '.away', dir);
  }
});

test('no valid base: a non-retryable failure that says what to do, or a full under autoFull', async () => {
  const empty = join(work, 'empty');
  const strict = deriveConfig('nobase', (c) => (c.repository.path = empty));
  const w = await startWorker(strict);
  try {
    const r = await cli(strict, ['backup', 'db', '--incremental', '--wait']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(
      /\[ChainBroken\] no valid base for an incremental backup of lab: there is no full backup to build on\. Fix: take a full backup/,
    );
    expect(existsSync(join(empty, 'clouds'))).toBe(false);
  } finally {
    await w.stop();
  }
  const lenient = deriveConfig('autofull', (c) => {
    c.repository.path = empty;
    c.clouds.lab.database.autoFull = true;
  });
  const w2 = await startWorker(lenient);
  try {
    const r = await cli(lenient, ['--json', 'backup', 'db', '--incremental', '--wait']);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      kind: 'full',
      parentId: null,
      fellBackToFull: 'there is no full backup to build on',
    });
  } finally {
    await w2.stop();
  }
});

test('catalog rebuild from an emptied index yields the same catalog, VERIFIED states included; CSV export', async () => {
  const before = await cli(configFile, ['--json', 'catalog', 'list']);
  expect(before.exitCode).toBe(0);
  const listed = JSON.parse(before.stdout) as { id: string; verification: string; check: string }[];
  // the incremental an earlier test deleted by hand is reported MISSING, not forgotten
  const missing = listed.filter((r) => r.check === 'MISSING');
  expect(missing).toHaveLength(1);
  expect(ids).not.toContain(missing[0]!.id);
  const rows = listed.filter((r) => r.check !== 'MISSING');
  expect(rows.map((r) => r.id)).toEqual(expect.arrayContaining(ids));
  expect(rows.find((r) => r.id === ids[2])!.verification).toBe('VERIFIED');
  rmSync(join(repo, 'catalog/index.json'));
  const rebuilt = await cli(configFile, ['--json', 'catalog', 'rebuild']);
  expect(rebuilt.exitCode).toBe(0);
  expect(JSON.parse(rebuilt.stdout)).toEqual(rows);
  expect(existsSync(join(repo, 'catalog/index.json'))).toBe(true);
  const csv = await cli(configFile, ['catalog', 'export', '--csv']);
  const lines = csv.stdout.trim().split('\n');
  expect(lines[0]).toBe('timestamp,type,level,path,size,checksum,id,verification,target,check');
  expect(lines).toHaveLength(rows.length + 1);
  expect(lines.find((l) => l.includes(ids[1]!))).toMatch(
    new RegExp(
      `^\\S+,database,incremental,clouds/lab/database/${ids[1]}/data\\.xb\\.zst\\.gpg,\\d+,[0-9a-f]{64},${ids[1]},UNVERIFIED,local,UNCHECKED$`,
    ),
  );
});
