// Glance image export: Glance → (sha512 checked against os_hash_value while streaming) → zstd →
// gpg → (sha256) → a staged file; published into clouds/<cloud>/image/<id>/ with its recipe,
// manifest last. An image already exported with the same hash is skipped.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Env } from '../deps.js';
import { fatal, FailureType } from '../errors.js';
import { ensureGpgHome, gpgEncrypt, gpgVersion, keyFingerprints } from '../crypto/gpg.js';
import { zstdCompress, zstdVersion } from '../crypto/zstd.js';
import { PipelineGuard } from '../crypto/stage.js';
import { meter, stageFailure } from '../mariadb/backup.js';
import { cancellationSignal, heartbeater } from '../heartbeat.js';
import { glance, type Image } from './api.js';
import type { OpenStackSession } from './session.js';
import type { OpenstackCloudConfig } from '../../config/openstack-schema.js';
import { artifactDir } from '../../core/manifest/manifest.js';
import {
  GLANCE_READ_ONLY,
  IMAGE,
  imageFile,
  newImageManifest,
  type ImageManifest,
} from '../../core/openstack/image.js';

export interface ImageRef {
  id: string;
  name: string | null;
  size: number | null;
  osHashValue: string | null;
}

export async function listImages(s: OpenStackSession, cfg: OpenstackCloudConfig): Promise<ImageRef[]> {
  const f = cfg.images;
  const images = await glance.listImages(s, { status: 'active', visibility: f.visibility, tag: f.tag, name: f.name });
  return images.map((i) => ({
    id: i.id,
    name: i.name ?? null,
    size: i.size ?? null,
    osHashValue: i.os_hash_value ?? null,
  }));
}

export interface ExportImageInput {
  cloud: string;
  imageId: string;
  workflowId: string;
  /** Set when the image is an instance snapshot (recorded in the manifest). */
  fromServer?: { id: string; name: string };
  compressionLevel?: number;
}

export interface ExportImageResult {
  imageId: string;
  skipped: boolean;
  /** Why it was skipped ("already exported with the same sha512"). */
  reason?: string;
  path: string;
  plainBytes: number;
  bytes: number;
  sha512: string;
  seconds: number;
}

function properties(img: Image): Record<string, unknown> {
  const known = new Set([...GLANCE_READ_ONLY, 'name', 'disk_format', 'container_format', 'visibility', 'tags']);
  return Object.fromEntries(Object.entries(img).filter(([k]) => !known.has(k)));
}

export async function exportImage(env: Env, s: OpenStackSession, input: ExportImageInput): Promise<ExportImageResult> {
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const rel = artifactDir(input.cloud, IMAGE, input.imageId);
  const img = await glance.getImage(s, input.imageId);
  if (!img)
    throw fatal(
      FailureType.OpenstackNotFound,
      `image ${input.imageId} is not in Glance`,
      'it was deleted since the listing; the next run no longer selects it',
    );
  if (img.status !== 'active')
    throw fatal(
      FailureType.OpenstackRequestRejected,
      `image ${img.id} is ${img.status}, not active`,
      'only active images have data to export',
    );
  const algo = img.os_hash_algo ?? null;
  const expected = img.os_hash_value ?? null;
  const existing = (await env.repo.readManifest(rel)) as ImageManifest | undefined;
  if (existing && existing.component === IMAGE && expected && existing.image.os_hash_value === expected) {
    const p = existing.parts[0]!;
    return {
      imageId: img.id,
      skipped: true,
      reason: 'already exported with the same os_hash_value',
      path: rel,
      plainBytes: p.plainBytes,
      bytes: p.bytes,
      sha512: p.plainSha512,
      seconds: 0,
    };
  }
  if (existing)
    throw fatal(
      FailureType.ChecksumMismatch,
      `image ${img.id} was exported before with os_hash_value ${existing.image.os_hash_value}, Glance now says ${expected}`,
      `Glance image data is immutable: inspect the image, then move ${rel} aside to export it again`,
    );

  const keys = await env.gpgKeys();
  await ensureGpgHome(keys.homedir);
  const level = input.compressionLevel ?? 3;
  const staging = await env.repo.createStaging(`image-${img.id}`);
  const file = imageFile(img.disk_format ?? null);
  try {
    const res = await glance.download(s, img.id);
    if (!res || !res.body)
      throw fatal(
        FailureType.OpenstackRequestRejected,
        `image ${img.id} has no data in Glance`,
        'upload its data or leave it out of the selection',
      );
    const guard = new PipelineGuard(cancellationSignal());
    const zstd = zstdCompress(level, guard.signal);
    const gpg = gpgEncrypt(keys, guard.signal);
    const out = createWriteStream(join(staging, file), { flags: 'wx', mode: 0o600 });
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
    const sha512 = createHash('sha512');
    const sealed = createHash('sha256');
    let plainBytes = 0;
    let bytes = 0;
    const beat = heartbeater();
    guard.track(body, zstd.stdin, zstd.stdout, gpg.stdin, gpg.stdout, out);
    const [a, b, c, zx, gx] = await Promise.allSettled([
      guard.watch(
        'glance download',
        pipeline(
          body,
          meter((n) => {
            plainBytes += n;
            beat({ imageId: img.id, plainBytes });
          }, sha512),
          zstd.stdin,
        ),
      ),
      guard.watch('zstd', pipeline(zstd.stdout, gpg.stdin)),
      guard.watch(
        'file',
        pipeline(
          gpg.stdout,
          meter((n) => (bytes += n), sealed),
          out,
        ),
      ),
      guard.watchStage(zstd),
      guard.watchStage(gpg),
    ]);
    if (guard.first?.part === 'glance download')
      throw fatal(
        FailureType.OpenstackUnavailable,
        `downloading image ${img.id}: ${(guard.first.error as Error)?.message}`,
        'the download broke off; the export is retried',
      );
    if (zx.status === 'fulfilled' && zx.value.code !== 0) throw stageFailure(zstd, zx.value.code, zx.value.stderr);
    if (gx.status === 'fulfilled' && gx.value.code !== 0) throw stageFailure(gpg, gx.value.code, gx.value.stderr);
    for (const r of [a, b, c]) if (r.status === 'rejected') throw r.reason;
    const got = sha512.digest('hex');
    // Glance hashes with os_hash_algo (sha512 by default); another algorithm is recorded, not compared
    if (algo === 'sha512' && expected && got !== expected) {
      throw fatal(
        FailureType.ChecksumMismatch,
        `image ${img.id}: the bytes Glance served hash to sha512 ${got}, its os_hash_value is ${expected}`,
        'the image data is damaged in the store: nothing was published; check the Glance backend',
      );
    }
    if (img.size != null && plainBytes !== img.size)
      throw fatal(
        FailureType.ChecksumMismatch,
        `image ${img.id}: ${plainBytes} bytes served, Glance says ${img.size}`,
        'nothing was published; check the Glance backend',
      );
    const [recipientFingerprints, zv, gv] = await Promise.all([
      keyFingerprints(keys.recipientKeyFiles, keys.homedir),
      zstdVersion(),
      gpgVersion(),
    ]);
    const manifest = newImageManifest({
      id: img.id,
      cloud: input.cloud,
      startedAt,
      completedAt: new Date().toISOString(),
      workflowId: input.workflowId,
      image: {
        id: img.id,
        name: img.name ?? null,
        status: img.status,
        disk_format: img.disk_format ?? null,
        container_format: img.container_format ?? null,
        visibility: img.visibility ?? null,
        tags: img.tags,
        size: img.size ?? null,
        os_hash_algo: algo,
        os_hash_value: expected,
        checksum: img.checksum ?? null,
        properties: properties(img),
      },
      ...(input.fromServer ? { fromServer: input.fromServer } : {}),
      parts: [{ file, sha256: sealed.digest('hex'), bytes, plainBytes, plainSha512: got }],
      compression: { format: 'zstd', level },
      encryption: {
        format: 'openpgp',
        cipher: 'AES256',
        passphrase: keys.passphrase !== undefined,
        recipientFingerprints,
      },
      tools: { zstd: zv, gpg: gv, osbackup: env.deps.version ?? 'unknown' },
    });
    await env.repo.publish(staging, rel, manifest, {
      'RESTORE.md': manifest.restoreRecipe,
      SHA256SUMS: `${manifest.parts[0]!.sha256}  ${file}\n`,
    });
    return {
      imageId: img.id,
      skipped: false,
      path: rel,
      plainBytes,
      bytes,
      sha512: got,
      seconds: Math.round((performance.now() - t0) / 100) / 10,
    };
  } catch (e) {
    await env.repo.discardStaging(staging).catch(() => undefined);
    throw e;
  }
}
