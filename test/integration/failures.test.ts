// Failures the seed's troubleshooting tables list, provoked for real on the lab: a full
// repository disk, and a worker killed in the middle of a restore.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { ArtifactManifest, ReferenceFacts } from '../../core/manifest/manifest.js';
import {
  cli,
  configWithOwnRepo,
  deriveConfig,
  firstActivityFailure,
  labDir,
  liveFacts,
  sql,
  startWorker,
  temporalClient,
  waitForPhase,
} from '../helpers/lab.js';

const TABLES = ['keystone.project', 'nova.instances', 'neutron.ports'];

describe('a full repository disk', () => {
  const mnt = mkdtempSync(join(tmpdir(), 'osb-full-'));
  let configFile: string;

  beforeAll(async () => {
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=128m,mode=700', 'osb-full', mnt]);
    configFile = deriveConfig('diskfull', (c) => (c.repository.path = join(mnt, 'repo')));
  });
  afterAll(async () => {
    await execa('umount', [mnt]).catch(() => undefined);
    rmSync(mnt, { recursive: true, force: true });
  });

  test('fails non-retryably naming the disk, publishes nothing, keeps the earlier backup intact', async () => {
    const worker = await startWorker(configFile);
    try {
      const first = await cli(configFile, ['--json', 'backup', 'db', '--full', '--wait']);
      expect(first.exitCode).toBe(0);
      const earlier = JSON.parse(first.stdout) as { path: string; sha256: string };
      const dbDir = join(mnt, 'repo/clouds/lab/database');
      const before = readdirSync(dbDir);
      // fill the disk until only a quarter of the artifact's size is left
      const { bavail, bsize } = statfsSync(mnt);
      const leave = Math.floor((JSON.parse(first.stdout) as { bytes: number }).bytes / 4);
      await execa('fallocate', ['-l', String(bavail * bsize - leave), join(mnt, 'filler')]);

      const t0 = Date.now();
      const r = await cli(configFile, ['backup', 'db', '--full', '--wait']);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/\[DiskFull\] .*no space left on the repository's disk/);
      expect(r.stderr).toMatch(/Fix: free space .*earlier backups are untouched/);
      expect(Date.now() - t0).toBeLessThan(30_000); // not retried for minutes
      expect(readdirSync(dbDir)).toEqual(before); // nothing new published
      expect(readdirSync(join(mnt, 'repo/.staging'))).toEqual([]); // the partial file is gone
      const { stdout } = await execa('sha256sum', [join(mnt, 'repo', earlier.path, 'data.xb.zst.gpg')]);
      expect(stdout.split(' ')[0]).toBe(earlier.sha256);
    } finally {
      await worker.stop();
    }
  });
});

describe('a worker killed mid-restore', () => {
  test('a new worker resumes the same workflow and the restore is still proven', async () => {
    // a backup to restore, in a repository of its own
    const { dir, repo, configFile } = configWithOwnRepo('crash');
    const first = await startWorker(configFile);
    const taken = await cli(configFile, ['--json', 'backup', 'db', '--full', '--wait']);
    expect(taken.exitCode).toBe(0);
    const { path } = JSON.parse(taken.stdout) as { path: string };
    const manifest = JSON.parse(readFileSync(join(repo, path, 'manifest.json'), 'utf8')) as ArtifactManifest;

    const started = await cli(configFile, ['--json', 'restore', 'db', '--to', 'ctl2', '--no-wait']);
    expect(started.exitCode).toBe(0);
    const { workflowId } = JSON.parse(started.stdout) as { workflowId: string };
    const temporal = await temporalClient(configFile);
    const handle = temporal.client.workflow.getHandle(workflowId);
    let second: Awaited<ReturnType<typeof startWorker>> | undefined;
    try {
      // kill -9 once the restore is past streaming, in the middle of the runbook
      await waitForPhase(handle, ['prepare', 'stop server', 'copy back']);
      await first.stop('SIGKILL');
      second = await startWorker(configFile);
      const result = (await handle.result()) as { verification: string; backupId: string };
      expect(result.backupId).toBe(manifest.id);
      expect(result.verification).toBe('VERIFIED');
      // the restore read the backup's facts (its first verified restore) as they are on ctl2 now,
      // and they are the live server's, which nothing wrote to since the backup
      const reference = JSON.parse(readFileSync(join(repo, path, 'facts.json'), 'utf8')) as ReferenceFacts;
      const facts = Object.fromEntries(
        reference.tables
          .filter((t) => TABLES.includes(t.table))
          .map((t) => [t.table, { rows: t.rows, checksum: t.checksum }]),
      );
      expect(Object.keys(facts).sort()).toEqual([...TABLES].sort());
      expect(await liveFacts('ctl2', TABLES)).toEqual(facts);
      expect(await liveFacts('ctl1', TABLES)).toEqual(facts);
    } finally {
      await second?.stop();
      await temporal.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the database side', () => {
  test('a backup user lacking grants gets an error naming exactly the missing ones', async () => {
    const pwFile = join(mkdtempSync(join(tmpdir(), 'osb-weak-')), 'pw');
    writeFileSync(pwFile, 'weak-Pa55\n', { mode: 0o600 });
    await sql(
      'ctl1',
      "DROP USER IF EXISTS 'weak'@'localhost'; SET SESSION sql_log_bin=0; CREATE USER 'weak'@'localhost' IDENTIFIED BY 'weak-Pa55'; GRANT SELECT, PROCESS ON *.* TO 'weak'@'localhost'",
    );
    const { dir, repo, configFile } = configWithOwnRepo('weak', (c) => {
      c.clouds.lab.database.user = 'weak';
      c.clouds.lab.database.password = { file: pwFile };
    });
    const worker = await startWorker(configFile);
    try {
      const t0 = Date.now();
      const r = await cli(configFile, ['backup', 'db', '--full', '--wait']);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(
        /\[MariadbPrivileges\] ctl1: the backup user weak lacks RELOAD, LOCK TABLES, BINLOG MONITOR/,
      );
      expect(r.stderr).toMatch(/Fix: GRANT RELOAD, LOCK TABLES, BINLOG MONITOR ON \*\.\* TO/);
      expect(r.stderr).not.toContain('weak-Pa55');
      expect(Date.now() - t0).toBeLessThan(30_000); // non-retryable
      expect(readdirSync(join(repo, '.staging'))).toEqual([]);
    } finally {
      await worker.stop();
      await sql('ctl1', "SET SESSION sql_log_bin=0; DROP USER IF EXISTS 'weak'@'localhost'");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('MariaDB down: the run retries, shows why, and completes once the server is back', async () => {
    const { dir, configFile } = configWithOwnRepo('down');
    const db = labDir();
    await execa('test/lab/db.sh', ['stop', join(db, 'ctl1')]);
    const worker = await startWorker(configFile);
    const temporal = await temporalClient(configFile);
    try {
      const started = await cli(configFile, ['--json', 'backup', 'db', '--full']);
      const { workflowId } = JSON.parse(started.stdout) as { workflowId: string };
      const handle = temporal.client.workflow.getHandle(workflowId);
      // the pending activity carries the cause of its last failed attempt
      const lastFailure = await firstActivityFailure(handle);
      expect(lastFailure).toMatch(/ctl1: SQL query: MariaDB is not answering .*Can't connect/);
      expect(lastFailure).toMatch(/check that the server \(or the mariadb container\) runs/);
      await execa('ip', ['netns', 'exec', 'osb-ctl1', 'test/lab/db.sh', 'start', join(db, 'ctl1')]);
      const result = (await handle.result()) as { backupId: string; sha256: string };
      expect(result.backupId).toMatch(/^db-full-/);
    } finally {
      await execa('ip', ['netns', 'exec', 'osb-ctl1', 'test/lab/db.sh', 'start', join(db, 'ctl1')]);
      await worker.stop();
      await temporal.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a worker killed mid-backup', () => {
  test('after a restart the workflow completes, no mariabackup is left behind, the catalog holds no partial artifact', async () => {
    const { dir, repo, configFile } = configWithOwnRepo('killbk');
    const first = await startWorker(configFile);
    const temporal = await temporalClient(configFile);
    let second: Awaited<ReturnType<typeof startWorker>> | undefined;
    try {
      const started = await cli(configFile, ['--json', 'backup', 'db', '--full']);
      const { workflowId } = JSON.parse(started.stdout) as { workflowId: string };
      const handle = temporal.client.workflow.getHandle(workflowId);
      expect(await waitForPhase(handle, ['stream backup'], 30_000)).toBe('stream backup');
      await new Promise((r) => setTimeout(r, 300)); // well inside the stream
      await first.stop('SIGKILL');
      second = await startWorker(configFile);
      const result = (await handle.result()) as { backupId: string; sha256: string; path: string };
      // nothing of the killed attempt still runs on the controller
      const left = await execa('pgrep', ['-f', `[o]sbackup-${result.backupId}-`], { reject: false });
      expect(left.stdout).toBe('');
      // the catalog holds the one complete artifact, whose bytes match its manifest
      const cat = await cli(configFile, ['--json', 'catalog', 'list']);
      const rows = JSON.parse(cat.stdout) as { id: string; sha256: string }[];
      expect(rows.map((r) => r.id)).toEqual([result.backupId]);
      const { stdout } = await execa('sha256sum', [join(repo, result.path, 'data.xb.zst.gpg')]);
      expect(stdout.split(' ')[0]).toBe(result.sha256);
    } finally {
      await second?.stop();
      await temporal.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a long-running query holding the backup lock', () => {
  test('the lock timeout is named, retried, and the backup completes once the query ends', async () => {
    const { dir, configFile } = configWithOwnRepo('lock', (c) => {
      c.clouds.lab.database.ftwrlWaitTimeout = 2;
      c.clouds.lab.database.ftwrlWaitThreshold = 1;
    });
    const worker = await startWorker(configFile);
    const temporal = await temporalClient(configFile);
    // a report-style query that runs for 12 s
    const blocker = execa(
      'mariadb',
      [`--defaults-file=${join(labDir(), 'ctl1', 'my.cnf')}`, '-e', 'SELECT SLEEP(12), COUNT(*) FROM nova.instances'],
      { reject: false },
    );
    try {
      await new Promise((r) => setTimeout(r, 1500));
      const started = await cli(configFile, ['--json', 'backup', 'db', '--full']);
      const { workflowId } = JSON.parse(started.stdout) as { workflowId: string };
      const handle = temporal.client.workflow.getHandle(workflowId);
      const lastFailure = await firstActivityFailure(handle);
      expect(lastFailure).toMatch(
        /timed out waiting for long-running queries to let go of their locks .*Unable to obtain lock/,
      );
      const result = (await handle.result()) as { backupId: string };
      expect(result.backupId).toMatch(/^db-full-/);
    } finally {
      blocker.kill();
      await blocker;
      await worker.stop();
      await temporal.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
