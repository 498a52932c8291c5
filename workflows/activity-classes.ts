// Every activity's class, in one place. A short activity does bounded work (seconds: a lookup, a
// small file, one SQL statement about the server); a data-bound one does work that grows with the
// data (hashing, streaming, facts over every table, prepare, copy-back, replay, copies, scrubs,
// dumps, image exports, compaction, removing a datadir or many artifacts, waiting for a
// cloud-side copy) or runs an operator's command of unknown length (a redeploy).
//
// The class decides how a workflow may call it (workflows/options.ts): a data-bound activity only
// through options with a heartbeat timeout and no start-to-close bound a bigger cloud breaks.
// Every activity heartbeats (the worker's keepalive for all, progress from the data-bound ones),
// so a lost worker is noticed within the heartbeat timeout whatever the class.
import type { Activities } from '../activities/index.js';

export type ActivityClass = 'short' | 'data';

export const ACTIVITY_CLASSES = {
  // the database: backup, restore
  mariadbCollectFacts: 'data',
  mariadbListTables: 'short',
  repositoryWriteReferenceFacts: 'short',
  mariadbStreamBackup: 'data',
  repositoryFindIncrementalBase: 'short',
  repositoryPublishDatabaseBackup: 'data',
  repositoryFindDatabaseBackup: 'short',
  repositoryWriteVerification: 'short',
  repositoryPlanRestore: 'short',
  repositoryVerifyChain: 'data',
  mariadbRestoreStream: 'data',
  mariadbPrepareChain: 'data',
  mariadbStopServer: 'short',
  mariadbCopyBack: 'data',
  // crash recovery and buffer pool load grow with the database
  mariadbStartServer: 'data',
  mariadbRemoveRestoreDir: 'data',
  repositoryCreateStaging: 'short',
  repositoryDiscardStaging: 'data',
  // Galera
  galeraPlan: 'short',
  galeraStatus: 'short',
  galeraInspect: 'short',
  galeraRestoreSettings: 'short',
  galeraWriteBootstrapState: 'short',
  galeraWipeNode: 'data',
  galeraStartJoiner: 'data',
  galeraDesync: 'short',
  galeraResync: 'short',
  // PITR
  binlogArchiveSettings: 'short',
  binlogPlanCompaction: 'short',
  binlogMergeSegments: 'data',
  binlogRemoveMergedPieces: 'short',
  mariadbArchiveBinlog: 'data',
  repositoryPlanPointInTime: 'short',
  repositoryVerifySegments: 'data',
  mariadbStreamBinlogs: 'data',
  mariadbReplayBinlogs: 'data',
  // single-service restore
  serviceRestoreSettings: 'short',
  repositoryPlanServiceRestore: 'short',
  mariadbScratchStart: 'data',
  mariadbScratchExport: 'data',
  mariadbScratchRemove: 'data',
  mariadbSafetyDumpLive: 'data',
  mariadbImportIntoLive: 'data',
  serviceRunCommand: 'data',
  // logical dumps
  mariadbDump: 'data',
  repositoryPublishDump: 'data',
  repositoryFindDump: 'short',
  repositoryVerifyDump: 'data',
  mariadbImportDump: 'data',
  // the control plane (a deploy tree, key sets, broker definitions: megabytes)
  controlPlaneBackupKolla: 'short',
  controlPlaneBackupKeys: 'short',
  controlPlaneBackupRabbitmq: 'short',
  cryptoDescribe: 'short',
  repositoryPublishControlPlane: 'short',
  controlPlaneFind: 'short',
  controlPlaneRestoreKeys: 'short',
  controlPlaneDiffConfig: 'short',
  controlPlaneRestoreConfig: 'short',
  controlPlaneRestoreRabbitmq: 'short',
  // importing existing backups
  importListKollaBackups: 'data',
  importListKnownArtifacts: 'short',
  importStreamArtifact: 'data',
  importReadSeedCatalog: 'short',
  // catalog, preflight, retention, tiers, copies, scrubs
  // a listing's first page merges the whole catalog (a read per artifact on a folder): it grows with the catalog
  catalogList: 'data',
  describeArtifact: 'short',
  catalogRebuild: 'data',
  preflightGate: 'short',
  retentionPlan: 'short',
  retentionMark: 'short',
  retentionPending: 'short',
  retentionPurge: 'data',
  targetCollectGarbage: 'data',
  retentionTargets: 'short',
  tierPlan: 'short',
  repositoryRecordTierRun: 'short',
  targetsPlanCopy: 'short',
  targetsCopyArtifact: 'data',
  storageListTargets: 'short',
  storagePlanVerify: 'short',
  storageCheckArtifacts: 'data',
  storageScanCapacity: 'data',
  // drills and the DR rebuild
  drillPlan: 'short',
  drillWriteRecord: 'short',
  drillListRecords: 'short',
  drSettings: 'short',
  drReadJournal: 'short',
  drWriteJournal: 'short',
  drRunCommand: 'data',
  drVerifyServices: 'short',
  drPlanResources: 'short',
  drVerifyUserData: 'short',
  drWriteRecord: 'short',
  // OpenStack resources: waits for cloud-side copies and image transfers are data-bound
  openstackPlanVolumes: 'short',
  openstackBackupSnapshot: 'data',
  openstackRetentionPlan: 'short',
  openstackRetentionMark: 'short',
  openstackRetentionPending: 'short',
  openstackRetentionPurge: 'data',
  openstackDryRun: 'short',
  openstackSnapshotVolume: 'data',
  openstackPlanImages: 'short',
  openstackExportImage: 'data',
  openstackPlanInstances: 'short',
  openstackSnapshotServer: 'data',
  openstackSnapshotCandidates: 'short',
  openstackVolumeFromSnapshot: 'data',
  openstackVolumeFromBackup: 'data',
  openstackReadImageExport: 'short',
  openstackImageFromExport: 'data',
  openstackServerPlan: 'short',
  openstackServerFromImage: 'data',
} as const satisfies Record<keyof Activities, ActivityClass>;

type Classes = typeof ACTIVITY_CLASSES;
export type ShortActivityName = { [K in keyof Classes]: Classes[K] extends 'short' ? K : never }[keyof Classes];
export type DataBoundActivityName = { [K in keyof Classes]: Classes[K] extends 'data' ? K : never }[keyof Classes];
export type ShortActivities = Pick<Activities, ShortActivityName>;
export type DataBoundActivities = Pick<Activities, DataBoundActivityName>;
