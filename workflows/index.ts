// Every workflow, for the worker's workflowsPath.
export { backupDatabaseWorkflow } from './backup-database.js';
export { restoreDatabaseWorkflow } from './restore-database.js';
export { catalogListWorkflow, catalogRebuildWorkflow } from './catalog.js';
