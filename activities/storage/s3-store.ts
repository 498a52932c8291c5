// An S3-compatible object store as a backup target: OpenStack Swift (s3api), Ceph RGW, MinIO,
// AWS. What differs between stores is config (config/s3-target-schema.ts), not code.
//
// Atomicity: an object becomes visible only when its PUT or CompleteMultipartUpload succeeds
// (S3 PUT is atomic: readers see the old object, the new one, or none — never a prefix). A
// failed or cancelled putStream aborts its multipart upload, so it leaves no object; parts of
// uploads whose worker died are invisible to listings and are collected by abortStaleUploads.
// The manifest (putText) is written last, as with the local repository.
import { createHash } from 'node:crypto';
import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ApplicationFailure } from '@temporalio/common';
import type { S3Target } from '../../config/s3-target-schema.js';
import { fatal, FailureType, transient } from '../errors.js';
import { registerSecret } from '../redact.js';
import { resolveSecret } from '../secrets.js';
import { assertHeartbeated } from '../heartbeat.js';

const MiB = 1024 * 1024;
/** The S3 limit for one object. */
const MAX_OBJECT_BYTES = 5 * 1024 * 1024 * MiB;
/** DeleteObjects takes at most 1000 keys (AWS, Swift's max_multi_delete_objects default). */
const DELETE_BATCH = 1000;

export type S3StoreOptions = Omit<S3Target, 'accessKeyId' | 'secretAccessKey'> & {
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Keys per ListObjectsV2 page (default 1000; small values exercise paging in tests). */
  listPageSize?: number;
};

export interface PutStreamOptions {
  /** Exact byte count when known: raises the part size if needed and is checked before completion. */
  contentLength?: number;
  contentType?: string;
  /** Cancels the upload (pass the activity's cancellationSignal()); the multipart upload is aborted. */
  signal?: AbortSignal;
  /** Bytes acknowledged by the store so far (for heartbeats). */
  onProgress?: (bytes: number) => void;
}

export interface PutResult {
  key: string;
  bytes: number;
  /** SHA-256 (hex) of the bytes read from the source while they were sent. */
  sha256: string;
  etag?: string;
  parts: number;
  /**
   * The ETag an S3 store gives the object when it stored exactly these bytes: the MD5 of the
   * body for a single PUT, else the MD5 of the parts' MD5s and "-<parts>" (computed here from the
   * bytes sent, split where the uploader splits them).
   */
  md5Etag: string;
}

export interface ObjectInfo {
  /** Key relative to the target's prefix. */
  key: string;
  size: number;
  etag?: string;
  lastModified?: Date;
}

export interface UploadInfo {
  key: string;
  uploadId: string;
  initiated?: Date;
}

/** S3 error codes that mean "these credentials may not do this". */
const AUTH_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'InvalidToken',
  'ExpiredToken',
  'Forbidden',
  'AuthorizationHeaderMalformed',
  'InvalidSecurity',
  'AccountProblem',
  'AllAccessDisabled',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
  'ESOCKETTIMEDOUT',
  'UND_ERR_SOCKET',
]);
const BUSY_CODES = new Set([
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'TimeoutError',
  'RequestTimeoutException',
  'ThrottlingException',
  'TooManyRequests',
]);

interface SdkError {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

/** Maps an SDK or network error to a typed failure; the message names the cause, never a secret. */
export function s3Failure(e: unknown, what: string, where: { bucket: string; endpoint: string }): ApplicationFailure {
  if (e instanceof ApplicationFailure) return e;
  const err = (e ?? {}) as SdkError;
  const status = err.$metadata?.httpStatusCode;
  // a network error from another realm (jest's VM modules) reaches us only as "AWS SDK error
  // wrapper for Error: connect ECONNREFUSED …": take the errno code from the message then
  const fromMessage = /\b(E[A-Z_]{3,}|UND_ERR_[A-Z_]+)\b/.exec(err.message ?? '')?.[1];
  const netCode =
    err.code && NETWORK_CODES.has(err.code)
      ? err.code
      : fromMessage && NETWORK_CODES.has(fromMessage)
        ? fromMessage
        : undefined;
  const code = err.Code ?? netCode ?? err.name ?? 'Error';
  const said = (err.message ?? '').slice(0, 300);
  const detail = `${code}${status ? `, HTTP ${status}` : ''}${err.$metadata?.requestId ? `, request ${err.$metadata.requestId}` : ''}${said && said !== code ? `: ${said}` : ''}`;
  const ctx = `${what} (bucket ${where.bucket} at ${where.endpoint})`;
  if (AUTH_CODES.has(code) || status === 401 || status === 403) {
    const cause =
      code === 'SignatureDoesNotMatch'
        ? 'the secret access key does not match the access key id'
        : code === 'InvalidAccessKeyId'
          ? 'the store does not know the access key id'
          : code === 'AccessDenied' || code === 'Forbidden'
            ? 'the credentials are refused or lack permission on the bucket'
            : 'the store refused the credentials';
    return fatal(
      FailureType.S3AuthFailed,
      `${ctx}: ${cause} (${detail})`,
      'check the files/variables that target.accessKeyId and target.secretAccessKey reference (Swift tempauth: access key "<account>:<user>", secret = the user\'s key; Keystone: `openstack ec2 credentials list`) and that the user may write to the bucket',
    );
  }
  if (code === 'NoSuchBucket') {
    return fatal(
      FailureType.S3BucketMissing,
      `${ctx}: the bucket does not exist (${detail})`,
      `create bucket ${where.bucket} (\`openstack container create ${where.bucket}\` or \`aws s3 mb s3://${where.bucket}\`) or fix target.bucket`,
    );
  }
  if (code === 'BadDigest' || code === 'InvalidDigest' || code === 'XAmzContentSHA256Mismatch') {
    return transient(
      FailureType.ChecksumMismatch,
      `${ctx}: the store computed another digest than the one sent: bytes were damaged on the way (${detail})`,
      'check the network path to the store (proxies rewriting bodies, NIC errors)',
    );
  }
  if (code === 'EntityTooLarge' || code === 'InvalidPart' || code === 'TooManyParts') {
    return fatal(
      FailureType.ObjectTooLarge,
      `${ctx}: the store refused the object's size or parts (${detail})`,
      'raise target.partSizeMiB, or set target.maxParts to what the store accepts (Swift s3api max_upload_part_num)',
    );
  }
  if (code === 'RequestTimeTooSkewed') {
    return fatal(
      FailureType.S3RequestFailed,
      `${ctx}: the worker's clock differs too much from the store's (${detail})`,
      'synchronise the clock (chrony/NTP) of the worker host',
    );
  }
  if (code === 'AbortError' || code === 'CancelledFailure') {
    return transient(
      FailureType.S3RequestFailed,
      `${ctx}: cancelled`,
      'nothing to fix: the request was cancelled and its multipart upload aborted',
    );
  }
  if (
    netCode ||
    NETWORK_CODES.has(code) ||
    BUSY_CODES.has(code) ||
    (status !== undefined && status >= 500) ||
    status === 429
  ) {
    return transient(
      FailureType.S3Unavailable,
      `${ctx}: the store is unreachable or busy (${detail})`,
      `check that ${where.endpoint} answers from the worker host and the store's health`,
    );
  }
  if (status !== undefined && status >= 400) {
    return fatal(
      FailureType.S3RequestFailed,
      `${ctx}: the store rejected the request (${detail})`,
      'check the target settings (forcePathStyle, checksumMode, deleteMode, region) against what the store supports',
    );
  }
  return transient(FailureType.S3RequestFailed, `${ctx}: ${detail}`, 'check the worker log and the store');
}

/** ETags as stores send them: quoted, sometimes in another case. */
export function sameEtag(a: string | undefined, b: string | undefined): boolean {
  const norm = (e: string | undefined) => (e ?? '').replace(/^W\//, '').replace(/"/g, '').toLowerCase();
  return norm(a) !== '' && norm(a) === norm(b);
}

function isNotFound(e: unknown): boolean {
  const err = e as SdkError;
  return (
    err?.$metadata?.httpStatusCode === 404 ||
    err?.name === 'NotFound' ||
    err?.name === 'NoSuchKey' ||
    err?.Code === 'NoSuchKey'
  );
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  const e = new Error(`upload cancelled${reason instanceof Error ? `: ${reason.message}` : ''}`);
  e.name = 'AbortError';
  return e;
}

export class S3Store {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  private readonly endpoint: string;

  constructor(private readonly o: S3StoreOptions) {
    registerSecret(o.credentials.secretAccessKey);
    this.bucket = o.bucket;
    this.prefix = o.prefix;
    this.endpoint = o.endpoint ?? `s3.${o.region}.amazonaws.com`;
    // The SDK's advice to move to Node 22 concerns SDK releases the package lock does not take;
    // on Node 20 it would print a multi-line warning in every CLI command and worker log that
    // touches S3. Whoever sets the variable themselves keeps their choice.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.client = new S3Client({
      endpoint: o.endpoint,
      region: o.region,
      forcePathStyle: o.forcePathStyle,
      credentials: o.credentials,
      requestChecksumCalculation: o.checksumMode,
      responseChecksumValidation: o.checksumMode,
      requestHandler: { requestTimeout: o.requestTimeoutSeconds * 1000, connectionTimeout: 10_000 },
      maxAttempts: 3,
    });
    this.client.middlewareStack.add(
      (next, context) => async (args) => {
        const req = args.request as { headers?: Record<string, string>; body?: unknown } | undefined;
        const cmd = context.commandName;
        const wanted =
          (cmd === 'DeleteObjectsCommand' && o.deleteMode === 'batch-md5') ||
          (o.contentMd5 && (cmd === 'PutObjectCommand' || cmd === 'UploadPartCommand'));
        if (wanted && req?.headers && (typeof req.body === 'string' || req.body instanceof Uint8Array)) {
          if (cmd === 'DeleteObjectsCommand') {
            // Swift's s3api insists on Content-MD5 and knows nothing of the SDK's CRC32 headers
            for (const h of Object.keys(req.headers))
              if (/^x-amz-checksum-|^x-amz-sdk-checksum-algorithm$/i.test(h)) delete req.headers[h];
          }
          if (!Object.keys(req.headers).some((h) => h.toLowerCase() === 'content-md5')) {
            req.headers['content-md5'] = createHash('md5').update(req.body).digest('base64');
          }
        }
        return next(args);
      },
      // build/low: after the SDK's flexible-checksum middleware (build/normal), before signing
      { step: 'build', priority: 'low', name: 'osbackupContentMd5' },
    );
  }

  /** Builds a store from a config target, resolving the credential references (activities only). */
  static async fromTarget(
    target: S3Target,
    env: NodeJS.ProcessEnv,
    extra: Pick<S3StoreOptions, 'listPageSize'> = {},
  ): Promise<S3Store> {
    const { accessKeyId, secretAccessKey, ...rest } = target;
    return new S3Store({
      ...rest,
      ...extra,
      credentials: {
        accessKeyId: await resolveSecret(accessKeyId, 'S3 access key id', env),
        secretAccessKey: await resolveSecret(secretAccessKey, 'S3 secret access key', env),
      },
    });
  }

  destroy(): void {
    this.client.destroy();
  }

  private full(key: string): string {
    if (!key || key.startsWith('/'))
      throw fatal(
        FailureType.ConfigInvalid,
        `invalid object key "${key}"`,
        'keys are relative, non-empty and do not start with "/"',
      );
    return this.prefix + key;
  }

  private rel(key: string): string {
    return key.startsWith(this.prefix) ? key.slice(this.prefix.length) : key;
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw s3Failure(e, what, { bucket: this.bucket, endpoint: this.endpoint });
    }
  }

  /** Part size for an object: the configured one, raised so that a known length fits in maxParts. */
  partSizeFor(contentLength?: number): number {
    const base = this.o.partSizeMiB * MiB;
    if (contentLength === undefined) return base;
    return Math.max(base, Math.ceil(contentLength / this.o.maxParts / MiB) * MiB);
  }

  /** Fails fast (typed) when the bucket is missing or the credentials are refused. */
  async checkBucket(signal?: AbortSignal): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: signal });
    } catch (e) {
      // HEAD has no body: a missing bucket comes back as a bare 404
      throw s3Failure(
        isNotFound(e) ? { Code: 'NoSuchBucket', $metadata: (e as SdkError).$metadata } : e,
        'checking the bucket',
        { bucket: this.bucket, endpoint: this.endpoint },
      );
    }
  }

  /**
   * Streams `source` to `key` as a multipart upload (one PUT when it fits in one part), with
   * at most queueSize parts in flight: the source is read only as fast as parts are accepted.
   * putStream owns `source`: on failure it is destroyed. On any failure or cancellation the
   * multipart upload is aborted, so no object and no upload remains.
   */
  async putStream(key: string, source: Readable, opts: PutStreamOptions = {}): Promise<PutResult> {
    const Key = this.full(key);
    const what = `uploading ${Key}`;
    const { contentLength, signal } = opts;
    const partSize = this.partSizeFor(contentLength);
    const limit = Math.min(partSize * this.o.maxParts, MAX_OBJECT_BYTES);
    if (contentLength !== undefined && contentLength > limit) {
      source.destroy();
      throw fatal(
        FailureType.ObjectTooLarge,
        `${what}: ${contentLength} bytes exceed the store's limit of ${limit}`,
        'split the artifact or raise target.partSizeMiB / target.maxParts',
      );
    }
    const hash = createHash('sha256');
    const partMd5s: Buffer[] = [];
    let partMd5 = createHash('md5');
    let inPart = 0;
    let bytes = 0;
    let sourceError: unknown;
    const tap = new Transform({
      transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
        // lib-storage cuts parts of exactly partSize (the last one shorter or full)
        for (let at = 0; at < chunk.length; ) {
          const n = Math.min(partSize - inPart, chunk.length - at);
          partMd5.update(chunk.subarray(at, at + n));
          inPart += n;
          at += n;
          if (inPart === partSize) {
            partMd5s.push(partMd5.digest());
            partMd5 = createHash('md5');
            inPart = 0;
          }
        }
        bytes += chunk.length;
        if (bytes > limit) {
          cb(
            fatal(
              FailureType.ObjectTooLarge,
              `${what}: more than ${limit} bytes (${partSize / MiB} MiB × ${limit / partSize} parts)`,
              'raise target.partSizeMiB (or target.maxParts if the store accepts more parts), or pass contentLength',
            ),
          );
          return;
        }
        hash.update(chunk);
        cb(null, chunk);
      },
      flush(cb: TransformCallback) {
        // checked before the last part is sent, so a short or long stream never completes
        if (contentLength !== undefined && bytes !== contentLength)
          cb(
            fatal(
              FailureType.S3RequestFailed,
              `${what}: the source gave ${bytes} bytes, ${contentLength} were announced`,
              'a bug in the producer of the stream',
            ),
          );
        else cb();
      },
    });
    source.on('error', (e) => (sourceError ??= e));
    tap.on('error', (e) => (sourceError ??= e));
    pipeline(source, tap, () => undefined); // errors reach Upload through tap
    const onAbort = () => tap.destroy(abortError(signal!));
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });

    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key,
        Body: tap,
        ContentLength: contentLength,
        ContentType: opts.contentType ?? 'application/octet-stream',
      },
      partSize,
      queueSize: this.o.queueSize,
      leavePartsOnError: false,
    });
    if (opts.onProgress) upload.on('httpUploadProgress', (p) => opts.onProgress!(p.loaded ?? 0));
    try {
      const r = await upload.done();
      if (inPart > 0 || partMd5s.length === 0) partMd5s.push(partMd5.digest());
      const md5Etag =
        partMd5s.length === 1
          ? partMd5s[0]!.toString('hex')
          : `${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-${partMd5s.length}`;
      return { key, bytes, sha256: hash.digest('hex'), etag: r.ETag, parts: partMd5s.length, md5Etag };
    } catch (e) {
      if (!tap.destroyed) tap.destroy();
      if (!source.destroyed) source.destroy();
      // lib-storage aborts on failure; repeat it (idempotent) in case that abort itself failed
      if (upload.uploadId) await this.abortUpload(key, upload.uploadId).catch(() => undefined);
      if (sourceError !== undefined && !(e as SdkError)?.$metadata) {
        if (sourceError instanceof ApplicationFailure) throw sourceError;
        if ((sourceError as Error).name === 'AbortError')
          throw s3Failure(sourceError, what, { bucket: this.bucket, endpoint: this.endpoint });
        throw sourceError; // the producer's own failure, for the caller to classify
      }
      throw s3Failure(e, what, { bucket: this.bucket, endpoint: this.endpoint });
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** A small object in one PUT (manifests, records). S3 PUT is atomic: all of it or nothing. */
  async putText(
    key: string,
    text: string,
    opts: { contentType?: string; signal?: AbortSignal } = {},
  ): Promise<{ etag?: string; bytes: number }> {
    const Key = this.full(key);
    const body = Buffer.from(text, 'utf8');
    const r = await this.call(`writing ${Key}`, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key,
          Body: body,
          ContentLength: body.length,
          ContentType: opts.contentType ?? 'application/json',
        }),
        { abortSignal: opts.signal },
      ),
    );
    return { etag: r.ETag, bytes: body.length };
  }

  async getText(key: string, signal?: AbortSignal): Promise<string> {
    const Key = this.full(key);
    return this.call(`reading ${Key}`, async () => {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }), { abortSignal: signal });
      return r.Body!.transformToString('utf8');
    });
  }

  /** The object's bytes as a Node stream (errors after the start surface on the stream). */
  async getStream(key: string, signal?: AbortSignal): Promise<Readable> {
    const Key = this.full(key);
    assertHeartbeated(`reading ${Key}`);
    const r = await this.call(`reading ${Key}`, () =>
      this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }), { abortSignal: signal }),
    );
    if (!(r.Body instanceof Readable))
      throw fatal(
        FailureType.S3RequestFailed,
        `reading ${Key}: the SDK returned no Node stream`,
        'run the worker on Node.js',
      );
    return r.Body;
  }

  /** Size and ETag, or undefined when there is no such object. */
  async head(
    key: string,
    signal?: AbortSignal,
  ): Promise<{ size: number; etag?: string; lastModified?: Date } | undefined> {
    const Key = this.full(key);
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }), { abortSignal: signal });
      return { size: r.ContentLength ?? 0, etag: r.ETag, lastModified: r.LastModified };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw s3Failure(e, `looking up ${Key}`, { bucket: this.bucket, endpoint: this.endpoint });
    }
  }

  /** Every object under `prefix` (relative to the target's prefix), page by page. */
  async *iterate(prefix = '', signal?: AbortSignal): AsyncGenerator<ObjectInfo> {
    let token: string | undefined;
    const Prefix = this.prefix + prefix;
    do {
      const page = await this.call(`listing ${Prefix}`, () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix,
            ContinuationToken: token,
            MaxKeys: this.o.listPageSize ?? 1000,
          }),
          { abortSignal: signal },
        ),
      );
      for (const c of page.Contents ?? [])
        if (c.Key) yield { key: this.rel(c.Key), size: c.Size ?? 0, etag: c.ETag, lastModified: c.LastModified };
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async list(prefix = '', signal?: AbortSignal): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    for await (const o of this.iterate(prefix, signal)) out.push(o);
    return out;
  }

  /** Deletes one object; deleting a missing key is not an error (S3 semantics). */
  async delete(key: string, signal?: AbortSignal): Promise<void> {
    const Key = this.full(key);
    await this.call(`deleting ${Key}`, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }), { abortSignal: signal }),
    );
  }

  /** Deletes keys in batches of 1000 (deleteMode batch-md5) or one request per key (one-by-one). */
  async deleteMany(keys: string[], signal?: AbortSignal): Promise<number> {
    if (this.o.deleteMode === 'one-by-one') {
      let next = 0;
      const worker = async () => {
        while (next < keys.length) await this.delete(keys[next++]!, signal);
      };
      await Promise.all(Array.from({ length: Math.min(this.o.queueSize, keys.length) }, worker));
      return keys.length;
    }
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH).map((k) => ({ Key: this.full(k) }));
      const r = await this.call(`deleting ${batch.length} objects under ${this.prefix || '/'}`, () =>
        this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch, Quiet: true } }), {
          abortSignal: signal,
        }),
      );
      const errors = r.Errors ?? [];
      if (errors.length) {
        const first = errors[0]!;
        const sample = errors
          .slice(0, 3)
          .map((x) => `${x.Key}: ${x.Code}`)
          .join('; ');
        throw s3Failure(
          { Code: first.Code, message: `${errors.length} of ${batch.length} keys not deleted (${sample})` },
          'deleting objects',
          { bucket: this.bucket, endpoint: this.endpoint },
        );
      }
    }
    return keys.length;
  }

  /** Multipart uploads in progress under `prefix` (relative to the target's prefix). */
  async listUploads(prefix = '', signal?: AbortSignal): Promise<UploadInfo[]> {
    const out: UploadInfo[] = [];
    const Prefix = this.prefix + prefix;
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.call(`listing multipart uploads under ${Prefix}`, () =>
        this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix, KeyMarker, UploadIdMarker }), {
          abortSignal: signal,
        }),
      );
      for (const u of page.Uploads ?? [])
        if (u.Key && u.UploadId) out.push({ key: this.rel(u.Key), uploadId: u.UploadId, initiated: u.Initiated });
      if (!page.IsTruncated) return out;
      KeyMarker = page.NextKeyMarker;
      UploadIdMarker = page.NextUploadIdMarker;
      if (!KeyMarker && !UploadIdMarker) return out;
    }
  }

  /** Aborts one multipart upload; an upload that is already gone is fine. */
  async abortUpload(key: string, uploadId: string, signal?: AbortSignal): Promise<void> {
    const Key = this.full(key);
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: uploadId }), {
        abortSignal: signal,
      });
    } catch (e) {
      if (isNotFound(e) || (e as SdkError).Code === 'NoSuchUpload' || (e as SdkError).name === 'NoSuchUpload') return;
      throw s3Failure(e, `aborting upload ${uploadId} of ${Key}`, { bucket: this.bucket, endpoint: this.endpoint });
    }
  }

  /**
   * Garbage of crashed attempts: aborts multipart uploads under `prefix` started more than
   * `olderThanMs` ago (a live upload of a large artifact can take hours: keep this generous).
   */
  async abortStaleUploads(
    prefix = '',
    olderThanMs = (this.o.staleUploadHours ?? 24) * 3600_000,
    signal?: AbortSignal,
  ): Promise<UploadInfo[]> {
    // olderThanMs <= 0 means every upload: stores round Initiated (Swift: up to the next second)
    const cutoff = Date.now() - olderThanMs;
    const stale = (await this.listUploads(prefix, signal)).filter(
      (u) => olderThanMs <= 0 || (u.initiated?.getTime() ?? 0) <= cutoff,
    );
    for (const u of stale) await this.abortUpload(u.key, u.uploadId, signal);
    return stale;
  }
}
