// The control plane beside the database: Kolla's config tree, Keystone's keys and RabbitMQ's
// definitions, backed up as sealed parts of one artifact and restored part by part.
import { rereadAfterWrite } from '../../config/schema.js';
import { createHash } from 'node:crypto';
import { controlPlaneRecipe, partsSums, type ControlPlaneManifest } from '../../core/control-plane/control-plane.js';
import { artifactDir, RECIPE_FILE } from '../../core/manifest/manifest.js';
import type { ActivityContext } from '../context.js';
import { keyFingerprints, gpgVersion } from '../crypto/gpg.js';
import { zstdVersion } from '../crypto/zstd.js';
import { fatal, fsFailure, FailureType } from '../errors.js';
import { withHeartbeat } from '../heartbeat.js';
import {
  backupKeystoneKeys,
  backupKollaConfig,
  backupRabbitmq,
  diffKollaConfig,
  readControlPlane,
  restoreKeystoneKeys,
  restoreKollaConfig,
  restoreRabbitmq,
} from './parts.js';

export function controlPlaneActivities({ env, catalog }: ActivityContext) {
  const { deps } = env;
  return {
    async controlPlaneBackupKolla(input: { cloud: string; stagingDir: string; from?: { host: string; dir: string } }) {
      return backupKollaConfig(env, input.cloud, input.stagingDir, input.from);
    },

    async controlPlaneBackupKeys(input: { cloud: string; host: string; stagingDir: string }) {
      return backupKeystoneKeys(env, input.cloud, input.host, input.stagingDir);
    },

    async controlPlaneBackupRabbitmq(input: { cloud: string; stagingDir: string }) {
      return backupRabbitmq(env, input.cloud, input.stagingDir);
    },

    /** What the encryption of new artifacts looks like (recorded in manifests) and the tool versions. */
    async cryptoDescribe(input: { cloud: string }): Promise<{
      encryption: ControlPlaneManifest['encryption'];
      tools: { zstd: string; gpg: string };
      compressionLevel: number;
    }> {
      const keys = await env.gpgKeys();
      const [recipientFingerprints, zstd, gpg] = await Promise.all([
        keyFingerprints(keys.recipientKeyFiles, keys.homedir),
        zstdVersion(),
        gpgVersion(),
      ]);
      const compressionLevel = env.cloud(input.cloud).controlPlane?.compressionLevel ?? 9;
      return {
        encryption: {
          format: 'openpgp',
          cipher: 'AES256',
          passphrase: keys.passphrase !== undefined,
          recipientFingerprints,
        },
        tools: { zstd, gpg },
        compressionLevel,
      };
    },

    /** Re-hashes every staged part, then publishes the folder with SHA256SUMS and the recipe; the manifest goes last. */
    async repositoryPublishControlPlane(input: {
      stagingDir: string;
      manifest: Omit<ControlPlaneManifest, 'partsDigest'>;
    }): Promise<{ path: string; partsDigest: string }> {
      const sums = partsSums(input.manifest.parts);
      const m: ControlPlaneManifest = {
        ...input.manifest,
        partsDigest: createHash('sha256').update(sums).digest('hex'),
      };
      const rel = artifactDir(m.cloud, m.component, m.id);
      if (await env.repo.readManifest(rel)) return { path: rel, partsDigest: m.partsDigest };
      try {
        if (rereadAfterWrite(deps.config.repository) && (await env.repo.exists(input.stagingDir))) {
          for (const p of m.parts) {
            const got = await env.repo.sha256File(`${input.stagingDir}/${p.file}`);
            if (got.sha256 !== p.sha256 || got.bytes !== p.bytes) {
              await env.repo.discardStaging(input.stagingDir);
              throw fatal(
                FailureType.ChecksumMismatch,
                `staged part ${p.file} of ${m.id} reads back as ${got.sha256} (${got.bytes} bytes), written as ${p.sha256} (${p.bytes} bytes)`,
                'the repository disk returned different bytes: check it, then take the backup again',
              );
            }
          }
        }
        await env.repo.publish(input.stagingDir, rel, m, { [RECIPE_FILE]: controlPlaneRecipe(m), SHA256SUMS: sums });
        await catalog.refresh(m.cloud, m.component, m.id);
      } catch (e) {
        if (e instanceof Error && e.name === 'ApplicationFailure') throw e;
        throw fsFailure(e, `publishing ${rel}`);
      }
      return { path: rel, partsDigest: m.partsDigest };
    },

    async controlPlaneFind(input: {
      cloud: string;
      backupId?: string;
    }): Promise<{ id: string; keystone: ControlPlaneManifest['keystone']; parts: { kind: string; host: string }[] }> {
      const m = await readControlPlane(env, input.cloud, input.backupId);
      return { id: m.id, keystone: m.keystone, parts: m.parts.map((p) => ({ kind: p.kind, host: p.host })) };
    },

    async controlPlaneRestoreKeys(input: { cloud: string; backupId: string; fromHost?: string; toHost: string }) {
      return withHeartbeat(
        'restoring the keys',
        restoreKeystoneKeys(env, input.cloud, input.backupId, input.fromHost, input.toHost),
        3000,
      );
    },

    async controlPlaneDiffConfig(input: { cloud: string; backupId?: string; targetHost: string; targetPath: string }) {
      return withHeartbeat(
        'comparing the config tree',
        diffKollaConfig(env, input.cloud, input.backupId, input.targetHost, input.targetPath),
        3000,
      );
    },

    async controlPlaneRestoreConfig(input: {
      cloud: string;
      backupId: string;
      targetHost: string;
      targetPath: string;
    }) {
      return withHeartbeat(
        'restoring the config tree',
        restoreKollaConfig(env, input.cloud, input.backupId, input.targetHost, input.targetPath),
        3000,
      );
    },

    async controlPlaneRestoreRabbitmq(input: { cloud: string; backupId: string; targetHost: string }) {
      return restoreRabbitmq(env, input.cloud, input.backupId, input.targetHost);
    },
  };
}
