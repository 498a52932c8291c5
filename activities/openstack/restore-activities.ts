// The restore-side OpenStack activities, over the cloud's shared session (see activities.ts).
import type { Env } from '../deps.js';
import type { OpenStackSession } from './session.js';
import {
  snapshotCandidates,
  volumeFromBackup,
  volumeFromSnapshot,
  type VolumeFromBackupInput,
  type VolumeFromSnapshotInput,
} from './restore-volumes.js';
import { imageFromExport, readImageManifest, type ImageFromExportInput } from './restore-images.js';
import { serverFromImage, serverPlan, type ServerFromImageInput } from './restore-servers.js';

export function openstackRestoreActivities(env: Env, session: (cloud: string) => OpenStackSession) {
  return {
    async openstackSnapshotCandidates(input: { cloud: string; snapshot?: string; volumeId?: string }) {
      return snapshotCandidates(session(input.cloud), input);
    },
    async openstackVolumeFromSnapshot(input: VolumeFromSnapshotInput) {
      return volumeFromSnapshot(session(input.cloud), input);
    },
    async openstackVolumeFromBackup(input: VolumeFromBackupInput) {
      return volumeFromBackup(session(input.cloud), input);
    },
    /** The export's record of the image (name, formats): what the workflow names and reports. */
    async openstackReadImageExport(input: { cloud: string; exportId: string }) {
      const m = await readImageManifest(env, input.cloud, input.exportId);
      return { image: m.image, fromServer: m.fromServer ?? null, completedAt: m.completedAt };
    },
    async openstackImageFromExport(input: ImageFromExportInput) {
      return imageFromExport(env, session(input.cloud), input);
    },
    async openstackServerPlan(input: { cloud: string; imageId: string }) {
      return serverPlan(session(input.cloud), input.imageId);
    },
    async openstackServerFromImage(input: ServerFromImageInput) {
      return serverFromImage(session(input.cloud), input);
    },
  };
}
