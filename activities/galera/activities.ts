// A Galera cluster around its backups (donor choice, desync while the donor streams) and its
// restore (bootstrap state, joiners wiped and started until Synced).
import type { DonorPolicy, GaleraNodeState } from '../../core/galera/donor.js';
import type { BootstrapPosition, ClusterRestoreSettings } from '../../core/galera/restore-plan.js';
import { isDatabaseManifest } from '../../core/manifest/any-manifest.js';
import type { ActivityContext } from '../context.js';
import {
  desyncNode,
  galeraConfig,
  inspectCluster,
  resetLeftoverDesync,
  resyncNode,
  type ResyncResult,
} from './cluster.js';
import { clusterRestoreSettings, startJoiner, wipeNode, writeBootstrapState } from './restore.js';

export function galeraActivities({ env }: ActivityContext) {
  return {
    /**
     * A Galera cloud's backup plan: null for a single server; else the donor policy, the nodes'
     * state (commits sampled to find the writer), and the desyncs earlier backups left, now reset.
     */
    async galeraPlan(input: { cloud: string }): Promise<{
      policy: DonorPolicy;
      drainTimeoutSeconds: number;
      states: GaleraNodeState[];
      leftovers: { host: string; backupId: string; wasDesynced: boolean }[];
    } | null> {
      const g = env.cloud(input.cloud).database.galera;
      if (!g) return null;
      const leftovers = await resetLeftoverDesync(env, input.cloud, g.drainTimeoutSeconds);
      const states = await inspectCluster(env, input.cloud, g.writer ? 0 : g.writeSampleSeconds);
      return {
        policy: { nodes: g.nodes, writer: g.writer, prefer: g.prefer },
        drainTimeoutSeconds: g.drainTimeoutSeconds,
        states,
        leftovers,
      };
    },

    /** `osbackup status`: each node's wsrep state and seqno, and the newest Galera backup's donor. */
    async galeraStatus(input: { cloud: string }): Promise<{
      nodes: GaleraNodeState[];
      lastBackup: {
        id: string;
        donor: string;
        seqno: number;
        clusterUuid: string;
        completedAt: string;
        failedDonors: string[];
      } | null;
    }> {
      const nodes = await inspectCluster(env, input.cloud, 0);
      const last = (await env.repository.scanManifests(input.cloud))
        .filter(isDatabaseManifest)
        .filter((m) => m.galera)
        .sort((a, b) => a.completedAt.localeCompare(b.completedAt))
        .at(-1);
      const g = last?.galera;
      return {
        nodes,
        lastBackup:
          last && g
            ? {
                id: last.id,
                donor: g.donor,
                seqno: g.seqno,
                clusterUuid: g.clusterUuid,
                completedAt: last.completedAt,
                failedDonors: g.failedDonors,
              }
            : null,
      };
    },

    async galeraInspect(input: { cloud: string }): Promise<GaleraNodeState[]> {
      return inspectCluster(env, input.cloud, 0);
    },

    /** Null when the cloud is not a Galera cluster. */
    async galeraRestoreSettings(input: { cloud: string }): Promise<ClusterRestoreSettings | null> {
      return clusterRestoreSettings(env, input.cloud);
    },

    async galeraWriteBootstrapState(input: {
      cloud: string;
      host: string;
      position: BootstrapPosition;
    }): Promise<void> {
      await writeBootstrapState(env, input.cloud, input.host, input.position);
    },

    async galeraWipeNode(input: { cloud: string; host: string }): Promise<void> {
      await wipeNode(env, input.cloud, input.host);
    },

    async galeraStartJoiner(input: {
      cloud: string;
      host: string;
      size: number;
      timeoutSeconds: number;
    }): Promise<{ seconds: number }> {
      return startJoiner(env, input.cloud, input.host, input.size, input.timeoutSeconds);
    },

    /** Idempotent: a retry sets it again. The marker on the host is written first. */
    async galeraDesync(input: { cloud: string; host: string; backupId: string }): Promise<void> {
      galeraConfig(env, input.cloud);
      await desyncNode(env, input.cloud, input.host, input.backupId);
    },

    async galeraResync(input: { cloud: string; host: string }): Promise<ResyncResult> {
      return resyncNode(env, input.cloud, input.host, galeraConfig(env, input.cloud).drainTimeoutSeconds);
    },
  };
}
