// Every workflow, for the worker's workflowsPath.
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
export { cloudRetentionPlanWorkflow, rotateWorkflow, retentionPlanWorkflow } from './rotate.js';
export { verifyWorkflow } from './verify.js';
export { capacityWorkflow } from './capacity.js';
export { archiveBinlogsWorkflow } from './archive-binlogs.js';
export { compactBinlogsWorkflow } from './compact-binlogs.js';
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
