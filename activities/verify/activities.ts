// Scrub and capacity: every target's artifacts re-read against their manifests, in batches, and
// what each target holds.
import type { TargetScan } from '../../core/capacity/capacity.js';
import type { ArtifactCheck } from '../../core/verify/report.js';
import type { ActivityContext } from '../context.js';
import { checkArtifacts, planVerify, scanCapacity, storageTargetNames, type VerifyPlan } from './verify.js';

export function verifyActivities({ env, catalogOf }: ActivityContext) {
  return {
    /** Every target's name, the repository first. */
    async storageListTargets(): Promise<string[]> {
      return storageTargetNames(env);
    },
    /** One listing of the target: its manifests, its catalog rows, and what this run re-reads. */
    async storagePlanVerify(input: { cloud: string; target: string; since: string | null }): Promise<VerifyPlan> {
      return planVerify(env, input);
    },
    /**
     * Re-reads a batch of artifacts and writes a CheckRecord beside each manifest, then the check
     * records into the target's catalog (else `catalog list` and the report show UNCHECKED until a rebuild).
     */
    async storageCheckArtifacts(input: {
      cloud: string;
      target: string;
      artifacts: { id: string; component: string }[];
      workflowId: string;
    }): Promise<ArtifactCheck[]> {
      const r = await checkArtifacts(env, input);
      await (await catalogOf(input.target)).refreshMany(input.cloud, input.artifacts);
      return r;
    },
    async storageScanCapacity(input: { target: string }): Promise<TargetScan> {
      return scanCapacity(env, input);
    },
  };
}
