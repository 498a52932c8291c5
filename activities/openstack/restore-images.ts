// Re-importing an exported image into Glance: repository file (sha256 checked) → gpg → zstd →
// (sha512 and size checked) → Glance image upload. The last chunk is held back until every
// check has passed: Glance only activates an image whose upload completed, so bytes that do not
// hash to the recorded os_hash_value never become an active image — the upload is broken off,
// and the queued image deleted.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApplicationFailure } from '@temporalio/common';
import type { Env } from '../deps.js';
import { fatal, FailureType } from '../errors.js';
import { classifyDecryptError } from '../crypto/escrow.js';
import { ensureGpgHome, gpgDecrypt } from '../crypto/gpg.js';
import { zstdDecompress } from '../crypto/zstd.js';
import { PipelineGuard } from '../crypto/stage.js';
import { meter, stageFailure } from '../mariadb/backup.js';
import { cancellationSignal, heartbeater } from '../heartbeat.js';
import { glance, type Image } from './api.js';
import type { OpenStackSession } from './session.js';
import { artifactDir } from '../../core/manifest/manifest.js';
import { IMAGE, type ImageManifest } from '../../core/openstack/image.js';
import { MARK_RESTORE_RUN, planImageCreate } from '../../core/openstack/image.js';

export interface ImageFromExportInput {
  cloud: string;
  /** The export's id: the exported image's id (its folder clouds/<cloud>/image/<id>/). */
  exportId: string;
  name?: string;
  visibility?: string;
  runId: string;
}

export interface ImageFromExportResult {
  imageId: string;
  name: string;
  exportId: string;
  bytes: number;
  /** Glance's os_hash_value of the new image: equal to the export's (checked). */
  osHashValue: string;
  /** Recorded properties not re-sent, and why. */
  skipped: { key: string; reason: string }[];
  adopted: boolean;
  seconds: number;
}

/** A checked failure that must break the upload off (so Glance never activates the image). */
class Refused extends Error {
  constructor(readonly failure: ApplicationFailure) {
    super(failure.message);
  }
}

export async function readImageManifest(env: Env, cloud: string, exportId: string): Promise<ImageManifest> {
  const rel = artifactDir(cloud, IMAGE, exportId);
  const m = (await env.repo.readManifest(rel)) as ImageManifest | undefined;
  if (!m || m.component !== IMAGE)
    throw fatal(
      FailureType.BackupNotFound,
      `the repository has no image export ${exportId} of cloud ${cloud} (no ${rel}/manifest.json)`,
      'list the exports with `osbackup catalog list`, or copy them back from a target first',
    );
  return m;
}

const deleteQuietly = (s: OpenStackSession, id: string) => glance.deleteImage(s, id).catch(() => undefined);

export async function imageFromExport(
  env: Env,
  s: OpenStackSession,
  input: ImageFromExportInput,
): Promise<ImageFromExportResult> {
  const t0 = performance.now();
  const m = await readImageManifest(env, input.cloud, input.exportId);
  const part = m.parts[0]!;
  const expected =
    m.image.os_hash_algo === 'sha512' && m.image.os_hash_value ? m.image.os_hash_value : part.plainSha512;
  const plan = planImageCreate(m.image, {
    name: input.name,
    runId: input.runId,
    from: `export:${input.cloud}/${input.exportId}`,
    visibility: input.visibility,
  });
  const name = plan.body.name as string;

  // a retried attempt adopts this run's image: active (done, checked below) or queued (upload again)
  let img: Image | undefined = (await glance.listImages(s, { name })).find((i) => i[MARK_RESTORE_RUN] === input.runId);
  const adopted = img !== undefined;
  if (img && (img.status === 'killed' || img.status === 'deleted' || img.status === 'saving')) {
    // a dead attempt's upload: Glance cannot resume it, and it is this run's own image
    await deleteQuietly(s, img.id);
    img = undefined;
  }
  if (!img) img = await glance.createImage(s, plan.body);
  const id = img.id;

  if (img.status !== 'active') {
    const file = env.repo.path(join(artifactDir(input.cloud, IMAGE, input.exportId), part.file));
    const keys = await env.gpgKeys();
    await ensureGpgHome(keys.homedir);
    const guard = new PipelineGuard(cancellationSignal());
    const gpg = gpgDecrypt(keys, guard.signal);
    const zstd = zstdDecompress(guard.signal);
    const source = createReadStream(file);
    const sealed = createHash('sha256');
    const plain = createHash('sha512');
    let bytes = 0;
    let plainBytes = 0;
    const beat = heartbeater();
    const what = `image export ${input.exportId} (${m.image.name ?? m.image.id})`;
    // every check, once the plaintext has ended: the held-back last chunk goes to Glance only if they pass
    const verdict = async (): Promise<ApplicationFailure | undefined> => {
      const [gx, zx] = await Promise.all([gpg.exit, zstd.exit]);
      const gotSealed = sealed.digest('hex');
      if (gotSealed !== part.sha256 || bytes !== part.bytes)
        return fatal(
          FailureType.ChecksumMismatch,
          `${what} is corrupt in the repository: SHA-256 ${gotSealed} (${bytes} bytes), the manifest recorded ${part.sha256} (${part.bytes} bytes); no image was created`,
          'restore it from another copy (a target) and find out what damaged the repository',
        );
      if (gx.code !== 0)
        return classifyDecryptError(gx.stderr, m.encryption, { artifact: what, gpgHome: keys.homedir });
      if (zx.code !== 0) return stageFailure(zstd, zx.code, zx.stderr);
      const got = plain.digest('hex');
      if (got !== expected || plainBytes !== part.plainBytes)
        return fatal(
          FailureType.ChecksumMismatch,
          `${what} decrypts to bytes whose SHA-512 is ${got} (${plainBytes} bytes), but the recorded os_hash_value is ${expected} (${part.plainBytes} bytes); the image was not activated and was deleted`,
          'the export does not hold the image it claims to: re-import another export, or export the image again from a cloud that still has it',
        );
      return undefined;
    };
    let held: Buffer | undefined;
    const hold = new Transform({
      highWaterMark: 1 << 20,
      transform(chunk: Buffer, _e, cb) {
        plain.update(chunk);
        plainBytes += chunk.length;
        beat({ imageId: id, plainBytes });
        const prev = held;
        held = chunk;
        cb(null, prev);
      },
      flush(cb) {
        verdict().then(
          (f) => (f ? cb(new Refused(f)) : cb(null, held)),
          (e: unknown) => cb(e as Error),
        );
      },
    });
    guard.track(source, gpg.stdin, gpg.stdout, zstd.stdin, zstd.stdout, hold);
    const results = await Promise.allSettled([
      guard.watch(
        'file',
        pipeline(
          source,
          meter((n) => (bytes += n), sealed),
          gpg.stdin,
        ),
      ),
      guard.watch('gpg', pipeline(gpg.stdout, zstd.stdin)),
      guard.watch('zstd', pipeline(zstd.stdout, hold)),
      guard.watch('glance upload', glance.upload(s, id, hold, part.plainBytes)),
    ]);
    const refused = results.map((r) => (r.status === 'rejected' ? findRefused(r.reason) : undefined)).find((x) => x);
    if (refused) {
      await deleteQuietly(s, id);
      throw refused.failure;
    }
    const [fromFile] = results;
    if (fromFile!.status === 'rejected' && (fromFile.reason as NodeJS.ErrnoException).code === 'ENOENT') {
      await deleteQuietly(s, id);
      throw fatal(
        FailureType.ArtifactMissing,
        `${what}: ${part.file} is missing from the repository (${file})`,
        'copy the export back from a target',
      );
    }
    if (guard.first) {
      // a broken stream (Glance hung up, a stage was killed): the queued image is this run's; a retry makes a clean one
      await deleteQuietly(s, id);
      throw guard.first.error;
    }
  }

  // Glance hashes what it stored: it must be what the export recorded
  let now = await glance.getImage(s, id);
  for (let i = 0; now && now.status !== 'active' && now.status !== 'killed' && i < 30; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    now = await glance.getImage(s, id);
  }
  if (!now || now.status !== 'active') {
    await deleteQuietly(s, id);
    throw fatal(
      FailureType.OpenstackResourceError,
      `image ${id} is ${now?.status ?? 'gone'} after its upload; it was deleted`,
      "look at glance-api's log (store full? size limit?)",
    );
  }
  if (now.os_hash_value !== expected) {
    await deleteQuietly(s, id);
    throw fatal(
      FailureType.ChecksumMismatch,
      `Glance stored image ${id} with os_hash_value ${now.os_hash_value}, the export recorded ${expected}; the image was deleted`,
      'look at the Glance store; the export itself checked out',
    );
  }
  return {
    imageId: id,
    name,
    exportId: input.exportId,
    bytes: now.size ?? part.plainBytes,
    osHashValue: now.os_hash_value,
    skipped: plan.skipped,
    adopted,
    seconds: Math.round((performance.now() - t0) / 100) / 10,
  };
}

function findRefused(e: unknown): Refused | undefined {
  for (let cur = e, i = 0; cur && i < 5; cur = (cur as { cause?: unknown }).cause, i++)
    if (cur instanceof Refused) return cur;
  return undefined;
}
