// The catalog with several writers on the lab's real OpenStack Swift (S3 API): workers held
// between what they read and what they write must lose no update there either.
// Env: OSBACKUP_S3_ENDPOINT and OSBACKUP_S3_KEY_DIR, as test/integration/s3-store.test.ts.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { s3TargetSchema } from '../../config/s3-target-schema.js';
import { S3Store } from '../../activities/storage/s3-store.js';
import { S3TargetStore } from '../../activities/storage/target.js';
import { DEFAULT_RETENTION_POLICY } from '../../core/retention/policy.js';
import { compactWhileOthersWrite, publishCheckDeleteAtOnce } from '../helpers/catalog-race.js';

const endpoint = process.env.OSBACKUP_S3_ENDPOINT;
const keyDir = process.env.OSBACKUP_S3_KEY_DIR ?? '';
let target: S3TargetStore;

beforeAll(async () => {
  if (!endpoint || !keyDir)
    throw new Error('OSBACKUP_S3_ENDPOINT and OSBACKUP_S3_KEY_DIR are not set: run it with `./dev itest`');
  const bucketFile = join(keyDir, 's3-bucket');
  const s3 = s3TargetSchema.parse({
    endpoint,
    bucket: existsSync(bucketFile) ? readFileSync(bucketFile, 'utf8').trim() : 'osbackup',
    prefix: `test-catalog-writers-${process.pid}-${Date.now()}/`,
    accessKeyId: { file: join(keyDir, 's3-access-key') },
    secretAccessKey: { file: join(keyDir, 's3-secret-key') },
  });
  target = new S3TargetStore('swift', () => S3Store.fromTarget(s3, process.env), DEFAULT_RETENTION_POLICY, {
    bucket: s3.bucket,
    prefix: s3.prefix,
    endpoint,
  });
  await target.checkWritable();
});

afterAll(async () => {
  if (!target) return;
  await target.deleteKeys((await target.list('')).map((o) => o.key));
  target.close();
});

test('on Swift: three workers scrubbing, deleting and publishing at once lose no update', async () => {
  expect(await publishCheckDeleteAtOnce(target, 'race')).toEqual([
    ['db-full-x', 'CHECKED'],
    ['db-full-z', 'UNCHECKED'],
  ]);
});

test('on Swift: a listing that compacts while other workers scrub and delete loses nothing', async () => {
  expect(await compactWhileOthersWrite(target, 'compact')).toEqual([
    ['db-full-x', 'CHECKED'],
    ['db-full-w', 'UNCHECKED'],
  ]);
});
