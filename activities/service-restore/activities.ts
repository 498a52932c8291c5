// Restoring one service's schemas into the live server: from a dump, or from a scratch server
// the chain is restored into; the live schemas are dumped first, for the way back.
import type { ArtifactManifest } from '../../core/manifest/manifest.js';
import { isBinlogManifest, isDatabaseManifest } from '../../core/manifest/any-manifest.js';
import { isDumpManifest } from '../../core/dump/dump.js';
import { segmentLink } from '../../core/pitr/segments.js';
import { planServiceRestore, type DumpLink, type ServiceRestorePlan } from '../../core/service-restore/plan.js';
import type { ActivityContext } from '../context.js';
import { fatal, FailureType } from '../errors.js';
import {
  exportFromScratch,
  importIntoLive,
  removeScratch,
  runServiceCommand,
  safetyDumpLive,
  serviceSettings,
  startScratch,
  type CommandOutcome,
  type ScratchExport,
} from './scratch.js';

export function serviceRestoreActivities({ env }: ActivityContext) {
  return {
    async serviceRestoreSettings(input: { cloud: string; service: string }) {
      return serviceSettings(env, input.cloud, input.service);
    },

    /** Dump or scratch for the service's schemas at `at` (core/service-restore/plan.ts); the chain's manifests when scratch. */
    async repositoryPlanServiceRestore(input: {
      cloud: string;
      at: string;
      schemas: string[];
      via?: 'dump' | 'scratch';
    }): Promise<{ plan: ServiceRestorePlan; chain: ArtifactManifest[] }> {
      const all = await env.repo.scanManifests(input.cloud);
      const points = all.filter(isDatabaseManifest);
      const dumps: DumpLink[] = all.filter(isDumpManifest).map((m) => ({
        id: m.id,
        source: { host: m.source.host },
        snapshotAt: m.dump.snapshotAt,
        binlog: m.dump.binlog,
        gtid: m.dump.gtid,
        schemas: m.dump.schemas.map((x) => x.name),
      }));
      const r = planServiceRestore({
        at: input.at,
        schemas: input.schemas,
        via: input.via,
        dumps,
        points,
        segments: all.filter(isBinlogManifest).map(segmentLink),
      });
      if ('problem' in r)
        throw fatal(
          FailureType.PitrOutOfRange,
          `restoring ${input.schemas.join(', ')} of cloud ${input.cloud}: ${r.problem}; nothing was touched`,
          'choose a time inside a recoverable range (`osbackup pitr status`), or take a backup or dump and keep the binlog archiver running',
        );
      const byId = new Map(points.map((m) => [m.id, m]));
      return { plan: r.plan, chain: r.plan.via === 'scratch' ? r.plan.pitr.chain.map((id) => byId.get(id)!) : [] };
    },

    async mariadbScratchStart(input: {
      cloud: string;
      host: string;
      folder: string;
      service: string;
      member: string | null;
    }) {
      return startScratch(env, input.cloud, input.host, input.folder, input.service, input.member);
    },

    async mariadbScratchExport(input: {
      cloud: string;
      host: string;
      folder: string;
      service: string;
      schemas: string[];
    }): Promise<ScratchExport> {
      return exportFromScratch(env, input.cloud, input.host, input.folder, input.service, input.schemas);
    },

    async mariadbScratchRemove(input: { cloud: string; host: string; folder: string; keepFiles: boolean }) {
      return removeScratch(env, input.cloud, input.host, input.folder, input.keepFiles);
    },

    async mariadbSafetyDumpLive(input: {
      cloud: string;
      scratchHost: string;
      folder: string;
      service: string;
      schemas: string[];
    }) {
      return safetyDumpLive(env, input.cloud, input.scratchHost, input.folder, input.service, input.schemas);
    },

    async mariadbImportIntoLive(input: { cloud: string; scratchHost: string; file: string; sha256: string }) {
      return importIntoLive(env, input.cloud, input.scratchHost, input.file, input.sha256);
    },

    async serviceRunCommand(input: {
      cloud: string;
      service: string;
      which: 'redeploy' | 'check';
    }): Promise<CommandOutcome | null> {
      return runServiceCommand(env, input.cloud, input.service, input.which);
    },
  };
}
