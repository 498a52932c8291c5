// S3Store against a real OpenStack Swift (s3api + tempauth) started by test/lab/swift.sh.
// Env: OSBACKUP_S3_ENDPOINT (http://addr:port) and OSBACKUP_S3_KEY_DIR (the folder with
// s3-access-key, s3-secret-key and s3-bucket). Under CI=true a missing env is a failure.
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import { s3TargetSchema, type S3Target } from '../../config/s3-target-schema.js';
import { S3Store } from '../../activities/storage/s3-store.js';

const endpoint = process.env.OSBACKUP_S3_ENDPOINT;
const keyDir = process.env.OSBACKUP_S3_KEY_DIR;
const configured = Boolean(endpoint && keyDir);
const MiB = 1024 * 1024;

if (!configured) {
  const why =
    'OSBACKUP_S3_ENDPOINT and OSBACKUP_S3_KEY_DIR are not set (start Swift with test/lab/swift.sh and export them)';
  if (process.env.CI === 'true') {
    test('S3 store environment', () => {
      throw new Error(`${why}: under CI the S3 tests must run`);
    });
  } else {
    console.warn(`skipping test/integration/s3-store.test.ts: ${why}`);
  }
}

/** Deterministic pseudo-random bytes (AES-CTR keystream: incompressible, like zstd output). */
function generated(size: number, opts: { failAt?: number } = {}): { stream: Readable; sha256: () => string } {
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 0));
  const zero = Buffer.alloc(MiB);
  const hash = createHash('sha256');
  let sent = 0;
  const stream = new Readable({
    highWaterMark: MiB,
    read() {
      if (opts.failAt !== undefined && sent >= opts.failAt) {
        this.destroy(new Error('producer died midway (test)'));
        return;
      }
      if (sent >= size) {
        this.push(null);
        return;
      }
      const n = Math.min(MiB, size - sent);
      const chunk = cipher.update(zero.subarray(0, n));
      hash.update(chunk);
      sent += n;
      this.push(chunk);
    },
  });
  return { stream, sha256: () => hash.digest('hex') };
}

async function sha256Of(stream: Readable): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const b of stream as AsyncIterable<Buffer>) {
    h.update(b);
    bytes += b.length;
  }
  return { sha256: h.digest('hex'), bytes };
}

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApplicationFailure) return e;
    throw new Error(`expected an ApplicationFailure, got ${String(e)}`);
  }
  throw new Error('expected a failure, the call succeeded');
}

(configured ? describe : describe.skip)('S3Store against OpenStack Swift', () => {
  const dir = keyDir ?? '';
  const bucketFile = join(dir, 's3-bucket');
  const bucket =
    process.env.OSBACKUP_S3_BUCKET ?? (existsSync(bucketFile) ? readFileSync(bucketFile, 'utf8').trim() : 'osbackup');
  const prefix = `test-s3store-${process.pid}-${Date.now()}/`;
  const target = (over: Partial<S3Target> = {}): S3Target =>
    s3TargetSchema.parse({
      endpoint,
      bucket,
      prefix,
      accessKeyId: { file: join(dir, 's3-access-key') },
      secretAccessKey: { file: join(dir, 's3-secret-key') },
      ...over,
    });
  let store: S3Store;
  const secret = () => readFileSync(join(dir, 's3-secret-key'), 'utf8').trim();

  beforeAll(async () => {
    store = await S3Store.fromTarget(target(), process.env, { listPageSize: 2 });
    await store.checkBucket();
  });

  afterAll(async () => {
    if (!store) return;
    await store.abortStaleUploads('', 0);
    await store.deleteMany((await store.list('')).map((o) => o.key));
    store.destroy();
  });

  test('a small object: putText/getText and putStream/getStream are byte-equal', async () => {
    const text = JSON.stringify({ id: 'manifest', n: 42, ü: 'ünïcode' }) + '\n';
    const w = await store.putText('small/manifest.json', text);
    expect(w.bytes).toBe(Buffer.byteLength(text));
    expect(await store.getText('small/manifest.json')).toBe(text);

    const data = Buffer.from('x'.repeat(1000) + 'end');
    const r = await store.putStream('small/blob.bin', Readable.from([data.subarray(0, 500), data.subarray(500)]));
    expect(r).toMatchObject({ bytes: data.length, sha256: createHash('sha256').update(data).digest('hex'), parts: 1 });
    const back = await sha256Of(await store.getStream('small/blob.bin'));
    expect(back).toEqual({ sha256: r.sha256, bytes: data.length });
    expect(await store.head('small/blob.bin')).toMatchObject({ size: data.length });
  });

  test('a 300 MiB multipart object streamed from a generator comes back with the same sha256', async () => {
    const size = 300 * MiB;
    const src = generated(size);
    let peakRss = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
    let progress = 0;
    const t0 = performance.now();
    const r = await store
      .putStream('big/artifact.bin.zst.gpg', src.stream, { onProgress: (b) => (progress = b) })
      .finally(() => clearInterval(sampler));
    const up = (performance.now() - t0) / 1000;
    expect(r.bytes).toBe(size);
    expect(r.sha256).toBe(src.sha256()); // the store's running hash = the producer's own
    expect(r.parts).toBe(Math.ceil(size / (16 * MiB)));
    expect(progress).toBe(size);
    expect((await store.head('big/artifact.bin.zst.gpg'))?.size).toBe(size);

    const t1 = performance.now();
    const back = await sha256Of(await store.getStream('big/artifact.bin.zst.gpg'));
    const down = (performance.now() - t1) / 1000;
    expect(back).toEqual({ sha256: r.sha256, bytes: size });
    console.log(
      `300 MiB through Swift: upload ${(size / MiB / up).toFixed(1)} MiB/s (${up.toFixed(1)} s, ${r.parts} parts, etag ${r.etag}), ` +
        `download ${(size / MiB / down).toFixed(1)} MiB/s (${down.toFixed(1)} s), peak RSS during upload ${(peakRss / MiB).toFixed(0)} MiB`,
    );
  });

  test('a source that dies midway: the error surfaces, no object and no multipart upload remain', async () => {
    const src = generated(200 * MiB, { failAt: 70 * MiB });
    await expect(store.putStream('broken/artifact.bin', src.stream)).rejects.toThrow('producer died midway');
    expect(await store.head('broken/artifact.bin')).toBeUndefined();
    expect(await store.list('broken/')).toEqual([]);
    expect(await store.listUploads('broken/')).toEqual([]);
  });

  test('a cancelled upload (AbortSignal) fails typed and leaves nothing', async () => {
    const src = generated(200 * MiB);
    const ac = new AbortController();
    let aborted = false;
    const f = await failureOf(
      store.putStream('cancelled/artifact.bin', src.stream, {
        signal: ac.signal,
        onProgress: (b) => {
          if (b >= 32 * MiB && !aborted) {
            aborted = true;
            ac.abort(new Error('activity cancelled'));
          }
        },
      }),
    );
    expect(f.type).toBe('S3RequestFailed');
    expect(f.message).toMatch(/cancelled/);
    expect(await store.head('cancelled/artifact.bin')).toBeUndefined();
    expect(await store.listUploads('cancelled/')).toEqual([]);
  });

  test('a contentLength that the stream does not match never completes', async () => {
    const src = generated(20 * MiB);
    const f = await failureOf(store.putStream('short/artifact.bin', src.stream, { contentLength: 21 * MiB }));
    expect(f.message).toMatch(/20971520 bytes, 22020096 were announced/);
    expect(await store.head('short/artifact.bin')).toBeUndefined();
    expect(await store.listUploads('short/')).toEqual([]);
  });

  test('abortStaleUploads collects the upload of a crashed attempt', async () => {
    // an upload left behind as if the worker had died after CreateMultipartUpload
    const { CreateMultipartUploadCommand } = await import('@aws-sdk/client-s3');
    const c = await store.client.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: `${prefix}crashed/artifact.bin` }),
    );
    expect((await store.listUploads('crashed/')).map((u) => u.uploadId)).toEqual([c.UploadId]);
    expect(await store.abortStaleUploads('crashed/', 3600_000)).toEqual([]); // too young to be garbage
    const gone = await store.abortStaleUploads('crashed/', 0);
    expect(gone.map((u) => u.key)).toEqual(['crashed/artifact.bin']);
    expect(await store.listUploads('crashed/')).toEqual([]);
  });

  test('list pages through, delete and deleteMany (batch with Content-MD5, and one by one)', async () => {
    const keys = ['ls/a', 'ls/b', 'ls/c/d', 'ls/e', 'ls/f'];
    for (const k of keys) await store.putText(k, k);
    expect((await store.list('ls/')).map((o) => o.key)).toEqual(keys); // page size 2: three pages
    await store.delete('ls/a');
    await store.delete('ls/a'); // a missing key is fine
    expect(await store.head('ls/a')).toBeUndefined();
    expect(await store.deleteMany(['ls/b', 'ls/c/d'])).toBe(2); // DeleteObjects: Swift insists on Content-MD5
    expect((await store.list('ls/')).map((o) => o.key)).toEqual(['ls/e', 'ls/f']);
    const oneByOne = await S3Store.fromTarget(target({ deleteMode: 'one-by-one' }), process.env);
    try {
      expect(await oneByOne.deleteMany(['ls/e', 'ls/f'])).toBe(2);
    } finally {
      oneByOne.destroy();
    }
    expect(await store.list('ls/')).toEqual([]);
  });

  test('a wrong secret is a non-retryable S3AuthFailed that names the cause, not the secret', async () => {
    const wrong = 'wrong-' + secret().split('').reverse().join('');
    const { accessKeyId: _a, secretAccessKey: _s, ...rest } = target();
    const bad = new S3Store({
      ...rest,
      credentials: { accessKeyId: readFileSync(join(dir, 's3-access-key'), 'utf8').trim(), secretAccessKey: wrong },
    });
    try {
      for (const p of [bad.putText('auth/x', 'x'), bad.checkBucket()]) {
        const f = await failureOf(p);
        expect(f.type).toBe('S3AuthFailed');
        expect(f.nonRetryable).toBe(true);
        expect(f.message).toMatch(/secret access key does not match|refused/);
        expect(f.message).toMatch(/Fix: check the files\/variables/);
        expect(f.message).not.toContain(wrong);
        expect(f.message).not.toContain(secret());
      }
    } finally {
      bad.destroy();
    }
    expect(await store.head('auth/x')).toBeUndefined();
  });

  test('a missing bucket is non-retryable, an unreachable endpoint retryable', async () => {
    const missing = await S3Store.fromTarget(target({ bucket: 'osbackup-no-such-bucket' }), process.env);
    const down = await S3Store.fromTarget(target({ endpoint: endpoint!.replace(/:\d+$/, ':1') }), process.env);
    try {
      const f1 = await failureOf(missing.putText('x', 'x'));
      expect([f1.type, f1.nonRetryable]).toEqual(['S3BucketMissing', true]);
      const f2 = await failureOf(missing.checkBucket());
      expect([f2.type, f2.nonRetryable]).toEqual(['S3BucketMissing', true]);
      const f3 = await failureOf(down.head('x'));
      expect([f3.type, f3.nonRetryable]).toEqual(['S3Unavailable', false]);
    } finally {
      missing.destroy();
      down.destroy();
    }
  });
});
