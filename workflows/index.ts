// Every workflow, for the worker's workflowsPath: the export name is the workflow type.
import { pitrArchiveWorkflow } from './pitr-archive.js';
import { pitrCompactionWorkflow } from './pitr-compaction.js';
import { retentionWorkflow } from './retention.js';

export { backupDatabaseWorkflow } from './backup-database.js';
export { restoreDatabaseWorkflow } from './restore-database.js';
export { catalogListWorkflow, catalogRebuildWorkflow, describeArtifactWorkflow } from './catalog.js';
export { backupControlPlaneWorkflow } from './backup-control-plane.js';
export {
  restoreKeystoneKeysWorkflow,
  restoreKollaConfigWorkflow,
  restoreRabbitmqWorkflow,
} from './restore-control-plane.js';
export { copyWorkflow } from './copy.js';
export { tierWorkflow } from './tiers.js';
export { cloudRetentionPlanWorkflow, retentionWorkflow, retentionPlanWorkflow } from './retention.js';
export { verifyWorkflow } from './verify.js';
export { capacityWorkflow } from './capacity.js';
export { pitrArchiveWorkflow } from './pitr-archive.js';
export { pitrCompactionWorkflow } from './pitr-compaction.js';
export { importKollaBackupsWorkflow, importSeedBackupsWorkflow } from './import-backups.js';
export { preflightWorkflow } from './preflight.js';
export { galeraStatusWorkflow } from './galera-status.js';
export { restoreServiceWorkflow } from './restore-service.js';
export { drRebuildWorkflow } from './dr-rebuild.js';
export { logicalDumpWorkflow, restoreDumpWorkflow } from './logical-dump.js';
export {
  backupVolumesWorkflow,
  cloudResourcesDryRunWorkflow,
  exportImagesWorkflow,
  snapshotInstancesWorkflow,
} from './cloud-resources.js';
export { restoreVolumeWorkflow, restoreImageWorkflow, restoreServerWorkflow } from './restore-cloud-resources.js';
export { galeraClusterRestoreWorkflow } from './galera-restore.js';
export { drDrillWorkflow, drillRecordsWorkflow } from './dr-drill.js';
export { reportDataWorkflow } from './report.js';
export { leaseWorkflow } from './lease.js';

// Earlier names of renamed workflow types (workflows/legacy-names.ts): runs, schedules and
// histories that name them keep working.
export {
  pitrArchiveWorkflow as archiveBinlogsWorkflow,
  pitrCompactionWorkflow as compactBinlogsWorkflow,
  retentionWorkflow as rotateWorkflow,
};
