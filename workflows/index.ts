// Every workflow, for the worker's workflowsPath.
export { backupDatabaseWorkflow } from './backup-database.js';
export { restoreDatabaseWorkflow } from './restore-database.js';
export { catalogListWorkflow, catalogRebuildWorkflow } from './catalog.js';
export { backupControlPlaneWorkflow } from './backup-control-plane.js';
export { restoreKeystoneKeysWorkflow, restoreKollaConfigWorkflow, restoreRabbitmqWorkflow } from './restore-control-plane.js';
export { importKollaBackupsWorkflow, importSeedBackupsWorkflow } from './import-backups.js';
