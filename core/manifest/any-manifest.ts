// Every kind of manifest a repository holds, and how to tell them apart. Apart from the
// database manifest's own module, so that each kind's module can build on the shared types.
import type { ControlPlaneManifest } from '../control-plane/control-plane.js';
import type { DumpManifest } from '../dump/dump.js';
import type { ImageManifest } from '../openstack/image.js';
import type { BinlogManifest } from '../pitr/segments.js';
import { artifactDir, type ArtifactManifest, type EncryptionInfo } from './manifest.js';

export type AnyManifest = ArtifactManifest | ControlPlaneManifest | BinlogManifest | DumpManifest | ImageManifest;

export function isDatabaseManifest(m: AnyManifest): m is ArtifactManifest {
  return m.component === 'database';
}

export function isBinlogManifest(m: AnyManifest): m is BinlogManifest {
  return m.component === 'binlog';
}

/** Every sealed file an artifact folder holds, with what it takes to check and open it. */
export function sealedFiles(
  m: AnyManifest,
): { rel: string; sha256: string; bytes: number; encryption: EncryptionInfo }[] {
  const dir = artifactDir(m.cloud, m.component, m.id);
  if (m.component === 'database' || m.component === 'binlog')
    return [
      {
        rel: `${dir}/${m.artifact.file}`,
        sha256: m.artifact.sha256,
        bytes: m.artifact.bytes,
        encryption: m.artifact.encryption,
      },
    ];
  if (m.component === 'dump')
    return m.dump.schemas.map((s) => ({
      rel: `${dir}/${s.file}`,
      sha256: s.sha256,
      bytes: s.bytes,
      encryption: m.encryption,
    }));
  return m.parts.map((p) => ({ rel: `${dir}/${p.file}`, sha256: p.sha256, bytes: p.bytes, encryption: m.encryption }));
}
