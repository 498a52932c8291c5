// Workflow types that were renamed, by their current name. The old names stay registered
// (workflows/index.ts exports each function under both) for as long as a running workflow, a
// schedule created before the rename, or a recorded history may name them. A visibility query
// by type must name both (`WorkflowType IN ('pitrArchiveWorkflow', 'archiveBinlogsWorkflow')`).

export const LEGACY_WORKFLOW_TYPES = {
  pitrArchiveWorkflow: 'archiveBinlogsWorkflow',
  pitrCompactionWorkflow: 'compactBinlogsWorkflow',
  retentionWorkflow: 'rotateWorkflow',
} as const;
