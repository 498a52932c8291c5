// The S3 repository's config (a repository without `type` stays a folder; sections an S3
// repository cannot hold yet are refused, by path) and the hand recipe it writes (how to fetch).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parseConfig } from '../../config/load.js';
import type { ArtifactManifest } from '../../core/manifest/manifest.js';
import { databaseRestoreRecipe, databaseRestoreScript, s3CloudsUrl } from '../../core/manifest/recipe.js';
import { cloudYaml, configProblems } from '../helpers/config-fixture.js';

const s3Repo = `repository:
  type: s3
  name: swift
  endpoint: http://swift.example:8080
  bucket: osbackup-primary
  prefix: prod/
  accessKeyId: { file: /etc/osbackup/s3-access-key }
  secretAccessKey: { file: /etc/osbackup/s3-secret-key }
`;
const withRepo = (repo: string, clouds = cloudYaml('prod')) =>
  `${repo}encryption: { passphrase: { file: /etc/osbackup/passphrase } }\nclouds:${clouds}`;

describe('repository config', () => {
  test('without `type` it is a folder, as before', () => {
    const c = parseConfig(withRepo('repository: { path: /srv/osbackup, mountPoint: /srv }\n'));
    expect(c.repository).toMatchObject({ type: 'local', path: '/srv/osbackup', mountPoint: '/srv', name: 'local' });
  });

  test('type s3 takes an S3 target’s settings, with their defaults', () => {
    const c = parseConfig(withRepo(s3Repo));
    expect(c.repository).toMatchObject({
      type: 's3',
      name: 'swift',
      bucket: 'osbackup-primary',
      prefix: 'prod/',
      forcePathStyle: true,
      checksumMode: 'WHEN_REQUIRED',
      partSizeMiB: 16,
      queueSize: 4,
    });
  });

  test('a folder setting on an S3 repository, or a missing bucket, is named by path', () => {
    const p = configProblems(withRepo(s3Repo.replace('  bucket: osbackup-primary\n', '  path: /srv/x\n')));
    expect(Object.keys(p)).toEqual(expect.arrayContaining(['repository.bucket', 'repository']));
    expect(p.repository).toMatch(/path/);
  });

  test('sections whose artifacts only a folder holds are refused with the limitation and the fix', () => {
    const extra = `    controlPlane: { keystoneHosts: [] }
    services: { nova: { schemas: [nova] } }
    schedules: { entries: { dump: { enabled: true } } }
    drill: { host: ctl1 }
`;
    const p = configProblems(withRepo(s3Repo, cloudYaml('prod', extra)));
    for (const path of [
      'clouds.prod.controlPlane',
      'clouds.prod.services',
      'clouds.prod.schedules.entries.dump.enabled',
      'clouds.prod.drill',
    ]) {
      expect(p[path]).toMatch(
        /S3 repository \(repository\.type: s3\) holds full and incremental database backups only/,
      );
      expect(p[path]).toMatch(/Fix: .*add the bucket as a copy target/);
    }
  });
});

describe('the hand recipe of an artifact in a bucket', () => {
  const m = (id: string, kind: 'full' | 'incremental', parentId: string | null): ArtifactManifest => ({
    formatVersion: 1,
    id,
    cloud: 'prod',
    component: 'database',
    kind,
    parentId,
    startedAt: '2026-12-01T02:00:00Z',
    completedAt: '2026-12-01T02:01:00Z',
    workflowId: 'w',
    source: { host: 'ctl1', address: '10.0.0.11', containerRuntime: 'docker' },
    artifact: {
      file: 'data.xb.zst.gpg',
      bytes: 10,
      sha256: 'a'.repeat(64),
      streamBytes: 20,
      layers: ['xbstream', 'zstd', 'openpgp'],
      compression: { format: 'zstd', level: 3, where: 'source' },
      encryption: { format: 'openpgp', cipher: 'AES256', passphrase: true, recipientFingerprints: [] },
    },
    mariadb: {
      serverVersion: '10.11.18-MariaDB',
      mariabackupVersion: '10.11.18-MariaDB',
      checkpoints: { backupType: 'full-backuped', fromLsn: '0', toLsn: '100', lastLsn: '100' },
      binlog: null,
    },
    tables: [],
    timings: { streamSeconds: 1, totalSeconds: 1 },
    tools: { zstd: 'v1', gpg: '2', osbackup: '0' },
    restoreRecipe: 'RESTORE.md',
  });
  const full = m('db-full-20261201T020000Z', 'full', null);
  const inc = m('db-incremental-20261202T020000Z', 'incremental', full.id);
  const where = {
    type: 's3' as const,
    endpoint: 'http://swift.example:8080',
    region: 'us-east-1',
    bucket: 'osbackup-primary',
    prefix: 'prod/',
    forcePathStyle: true,
  };

  test('RESTORE.md says where the object is and how to fetch it with the AWS CLI or curl', () => {
    const r = databaseRestoreRecipe(inc, where);
    const url = 's3://osbackup-primary/prod/clouds/prod/database/db-incremental-20261202T020000Z/data.xb.zst.gpg';
    expect(r).toContain(`aws --endpoint-url http://swift.example:8080 --region us-east-1 s3 cp ${url} data.xb.zst.gpg`);
    expect(r).toContain(
      '-o data.xb.zst.gpg http://swift.example:8080/osbackup-primary/prod/clouds/prod/database/db-incremental-20261202T020000Z/data.xb.zst.gpg',
    );
    expect(r).toContain("printf 'machine %s login %s password %s\\n' swift.example");
    expect(r).toContain(`s3 cp ${url} - | tee >(sha256sum`);
    // a folder repository's recipe has no fetch step
    expect(databaseRestoreRecipe(inc)).not.toContain('Fetch it');
  });

  test('the bucket URL is path-style, or virtual-host style on AWS', () => {
    expect(s3CloudsUrl(where)).toBe('http://swift.example:8080/osbackup-primary/prod/clouds');
    expect(s3CloudsUrl({ ...where, endpoint: undefined, region: 'eu-central-1', forcePathStyle: false })).toBe(
      'https://osbackup-primary.s3.eu-central-1.amazonaws.com/prod/clouds',
    );
  });

  test('restore.sh downloads the chain from the bucket and is valid bash', async () => {
    const script = databaseRestoreScript([full, inc], where);
    expect(script).toContain('S3_CLOUDS_URL=${S3_CLOUDS_URL:-http://swift.example:8080/osbackup-primary/prod/clouds}');
    expect(script).toContain('--aws-sigv4 "aws:amz:$S3_REGION:s3"');
    const file = join(mkdtempSync(join(tmpdir(), 'osb-recipe-')), 'restore.sh');
    writeFileSync(file, script);
    expect((await execa('bash', ['-n', file], { reject: false })).stderr).toBe('');
    // without the key files it stops before touching anything, saying what to set
    const r = await execa('bash', [file], {
      reject: false,
      env: { WORK_DIR: join(file, '..', 'work'), CLOUDS_DIR: '/nonexistent' },
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('set S3_ACCESS_KEY_FILE and S3_SECRET_KEY_FILE');
  });
});
