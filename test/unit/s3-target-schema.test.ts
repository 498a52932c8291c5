import { s3TargetSchema } from '../../config/s3-target-schema.js';

const keys = { accessKeyId: { file: '/etc/osbackup/s3-access-key' }, secretAccessKey: { env: 'OSBACKUP_S3_SECRET' } };

test('defaults are the settings that work with OpenStack Swift', () => {
  expect(s3TargetSchema.parse({ endpoint: 'http://swift:8080', bucket: 'osbackup', ...keys })).toMatchObject({
    region: 'us-east-1',
    prefix: '',
    forcePathStyle: true,
    checksumMode: 'WHEN_REQUIRED',
    contentMd5: true,
    deleteMode: 'batch-md5',
    partSizeMiB: 16,
    queueSize: 4,
    maxParts: 1000,
  });
});

test('AWS: no endpoint, virtual-host style, flexible checksums', () => {
  const t = s3TargetSchema.parse({
    region: 'eu-central-1',
    bucket: 'acme-backups',
    forcePathStyle: false,
    checksumMode: 'WHEN_SUPPORTED',
    maxParts: 10000,
    ...keys,
  });
  expect(t.endpoint).toBeUndefined();
});

test.each([
  [{ prefix: '/abs/' }, 'prefix'],
  [{ prefix: 'no-slash' }, 'prefix'],
  [{ bucket: 'Bad_Bucket' }, 'bucket'],
  [{ endpoint: 'ftp://x' }, 'endpoint'],
  [{ partSizeMiB: 4 }, 'partSizeMiB'],
  [{ deleteMode: 'batch' }, 'deleteMode'],
  [{ accessKeyId: { file: '/a', env: 'B' } }, 'accessKeyId'],
  [{ secretAccessKey: 'plain-text-secret' }, 'secretAccessKey'],
  [{ unknown: 1 }, ''],
])('rejects %j', (over, path) => {
  const r = s3TargetSchema.safeParse({ endpoint: 'http://swift:8080', bucket: 'osbackup', ...keys, ...over });
  expect(r.success).toBe(false);
  if (path) expect(r.error!.issues.map((i) => i.path.join('.'))).toContain(path);
});
