// An S3 target in the config (targets.<name> with type: s3). Everything a store needs
// to differ on is a setting here, so OpenStack Swift, Ceph RGW, MinIO and AWS work by changing
// the config alone — no store-specific code paths.
//
// OpenStack Swift (s3api + tempauth or keystone s3token; the lab's test/lab/swift.sh):
//   endpoint: http://swift.example:8080     # the proxy; s3api has no virtual-host buckets by default
//   forcePathStyle: true
//   checksumMode: WHEN_REQUIRED             # Swift rejects aws-chunked bodies (streamed PutObject)
//   deleteMode: batch-md5                   # DeleteObjects needs Content-MD5 (the SDK sends CRC32)
//   maxParts: 1000                          # s3api max_upload_part_num default
//   accessKeyId: { file: /etc/osbackup/s3-access-key }      # tempauth "<account>:<user>" or an EC2 credential
//   secretAccessKey: { file: /etc/osbackup/s3-secret-key }
// MinIO:
//   endpoint: http://minio.example:9000, forcePathStyle: true, checksumMode: WHEN_SUPPORTED,
//   deleteMode: batch-md5, maxParts: 10000
// Ceph RGW:
//   endpoint: https://rgw.example:7480, forcePathStyle: true, checksumMode: WHEN_REQUIRED
//   (RGW before Squid does not know the CRC trailers), deleteMode: batch-md5, maxParts: 10000
// AWS S3:
//   (no endpoint), region: eu-central-1, forcePathStyle: false, checksumMode: WHEN_SUPPORTED,
//   deleteMode: batch-md5, maxParts: 10000
//
// No store-side lifecycle rules are assumed (Swift has none): retention and the garbage of
// crashed uploads (abortStaleUploads) are osbackup's own work.
import { z } from 'zod';
import { secretRefSchema } from './secret-ref.js';

const bucketName = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
    'must be a DNS-compatible bucket name (3–63 characters: a-z, 0-9, ".", "-")',
  );

export const s3TargetSchema = z
  .object({
    /** Base URL of the S3 API (http or https). Unset = AWS, resolved from the region. */
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    region: z.string().min(1).default('us-east-1'),
    bucket: bucketName,
    /** Key prefix of every object osbackup writes ("" or ending in "/", no leading "/"). */
    prefix: z
      .string()
      .default('')
      .refine(
        (p) => p === '' || (p.endsWith('/') && !p.startsWith('/')),
        'must be empty or end with "/" (and not start with "/")',
      ),
    /** Path-style URLs (endpoint/bucket/key): needed by Swift, MinIO, most RGW setups. */
    forcePathStyle: z.boolean().default(true),
    /**
     * The SDK's requestChecksumCalculation and responseChecksumValidation. WHEN_SUPPORTED adds
     * CRC32 (aws-chunked trailers on streams), which Swift and older RGW reject; osbackup verifies
     * its own SHA-256 either way.
     */
    checksumMode: z.enum(['WHEN_REQUIRED', 'WHEN_SUPPORTED']).default('WHEN_REQUIRED'),
    /** Send Content-MD5 with every part and small object, so the store rejects bytes damaged on the way. */
    contentMd5: z.boolean().default(true),
    /** batch-md5: DeleteObjects (≤1000 keys) with a Content-MD5 header; one-by-one: DeleteObject per key. */
    deleteMode: z.enum(['batch-md5', 'one-by-one']).default('batch-md5'),
    /** Multipart part size; raised automatically when a known length would need more than maxParts parts. */
    partSizeMiB: z.number().int().min(5).max(5120).default(16),
    /** Parts in flight at once (memory ≈ (queueSize + 1) × partSize). */
    queueSize: z.number().int().min(1).max(64).default(4),
    /** Most parts the store accepts in one upload (Swift s3api 1000, AWS/MinIO/RGW 10000). */
    maxParts: z.number().int().min(1).max(10000).default(1000),
    /** Per-request socket timeout. */
    requestTimeoutSeconds: z.number().int().min(1).default(300),
    /** Multipart uploads older than this are garbage of crashed attempts (abortStaleUploads). */
    staleUploadHours: z.number().min(1).default(24),
    accessKeyId: secretRefSchema,
    secretAccessKey: secretRefSchema,
  })
  .strict();
export type S3Target = z.infer<typeof s3TargetSchema>;
