// How SDK and network errors become typed failures (no server needed).
import { s3Failure } from '../../activities/storage/s3-store.js';
import { registerSecret } from '../../activities/redact.js';

const where = { bucket: 'backups', endpoint: 'http://swift:8080' };
const sdk = (Code: string, status?: number, message = Code) =>
  Object.assign(new Error(message), { name: Code, Code, $metadata: { httpStatusCode: status, requestId: 'tx1' } });

test.each([
  [sdk('SignatureDoesNotMatch', 403), 'S3AuthFailed', true, /secret access key does not match/],
  [sdk('InvalidAccessKeyId', 403), 'S3AuthFailed', true, /does not know the access key id/],
  [sdk('AccessDenied', 403), 'S3AuthFailed', true, /lack permission/],
  [
    Object.assign(new Error('UnknownError'), { name: 'Forbidden', $metadata: { httpStatusCode: 403 } }),
    'S3AuthFailed',
    true,
    /Forbidden/,
  ],
  [sdk('NoSuchBucket', 404), 'S3BucketMissing', true, /openstack container create backups/],
  [sdk('BadDigest', 400), 'ChecksumMismatch', false, /damaged on the way/],
  [sdk('EntityTooLarge', 400), 'ObjectTooLarge', true, /partSizeMiB/],
  [sdk('ServiceUnavailable', 503), 'S3Unavailable', false, /unreachable or busy/],
  [sdk('InternalError', 500), 'S3Unavailable', false, /HTTP 500/],
  [
    Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:8080'), {
      code: 'ECONNREFUSED',
      $metadata: { attempts: 3 },
    }),
    'S3Unavailable',
    false,
    /ECONNREFUSED/,
  ],
  [new Error('AWS SDK error wrapper for Error: read ECONNRESET'), 'S3Unavailable', false, /ECONNRESET/],
  [sdk('InvalidArgument', 400), 'S3RequestFailed', true, /rejected the request/],
  [Object.assign(new Error('Upload aborted.'), { name: 'AbortError' }), 'S3RequestFailed', false, /cancelled/],
])('%s → %s', (e, type, nonRetryable, re) => {
  const f = s3Failure(e, 'uploading k', where);
  expect([f.type, f.nonRetryable]).toEqual([type, nonRetryable]);
  expect(f.message).toMatch(re);
  expect(f.message).toMatch(/bucket backups at http:\/\/swift:8080/);
});

test('a registered secret never appears in the message', () => {
  registerSecret('s3cr3t-value-123');
  const f = s3Failure(
    sdk('SignatureDoesNotMatch', 403, 'signature for key s3cr3t-value-123 is wrong'),
    'writing k',
    where,
  );
  expect(f.message).not.toContain('s3cr3t-value-123');
  expect(f.message).toContain('***');
});
