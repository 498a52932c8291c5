// Upload/download throughput of S3Store against an S3 endpoint (the lab's Swift), and the
// process RSS while it runs. Needs `npm run build` first.
// Usage: OSBACKUP_S3_ENDPOINT=http://… OSBACKUP_S3_KEY_DIR=<dir with s3-access-key, s3-secret-key, s3-bucket>
//        node bench/s3-throughput.mjs [MiB=300] [partSizeMiB=16] [queueSize=4]
import { createCipheriv, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { S3Store } from '../dist/activities/storage/s3-store.js';
import { s3TargetSchema } from '../dist/config/s3-target-schema.js';

const [mib = 300, partSizeMiB = 16, queueSize = 4] = process.argv.slice(2).map(Number);
const dir = process.env.OSBACKUP_S3_KEY_DIR;
const target = s3TargetSchema.parse({
  endpoint: process.env.OSBACKUP_S3_ENDPOINT,
  bucket: readFileSync(join(dir, 's3-bucket'), 'utf8').trim(),
  prefix: `bench-${process.pid}/`,
  partSizeMiB,
  queueSize,
  accessKeyId: { file: join(dir, 's3-access-key') },
  secretAccessKey: { file: join(dir, 's3-secret-key') },
});
const store = await S3Store.fromTarget(target, process.env);
const M = 1 << 20;
const size = mib * M;
const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 0));
const zero = Buffer.alloc(M);
let sent = 0;
const src = new Readable({
  read() {
    if (sent >= size) return void this.push(null);
    const n = Math.min(M, size - sent);
    sent += n;
    this.push(cipher.update(zero.subarray(0, n)));
  },
});
let peak = 0;
const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
const rss0 = process.memoryUsage().rss;
let t = performance.now();
const r = await store.putStream('obj.bin', src);
const up = (performance.now() - t) / 1000;
const peakUp = peak;
peak = 0;
t = performance.now();
const h = createHash('sha256');
for await (const b of await store.getStream('obj.bin')) h.update(b);
const down = (performance.now() - t) / 1000;
clearInterval(timer);
if (h.digest('hex') !== r.sha256) throw new Error('sha256 differs');
await store.delete('obj.bin');
store.destroy();
console.log(
  `${mib} MiB part ${partSizeMiB} MiB queue ${queueSize}: upload ${(mib / up).toFixed(1)} MiB/s, download ${(mib / down).toFixed(1)} MiB/s; ` +
    `RSS before ${(rss0 / M).toFixed(0)} MiB, peak upload ${(peakUp / M).toFixed(0)} MiB, peak download ${(peak / M).toFixed(0)} MiB`,
);
