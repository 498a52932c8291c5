// Catalog reads go through a workflow so the client needs no access to the repository itself.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { CatalogEntry, CatalogListing } from '../core/catalog/catalog.js';
import type { ArtifactDescription } from '../core/catalog/describe.js';
import { shortCall } from './options.js';

const { catalogList, catalogRebuild, describeArtifact } = proxyActivities<Activities>(shortCall);

export async function catalogListWorkflow(input: { cloud?: string; target?: string }): Promise<CatalogListing> {
  return catalogList(input);
}

export async function catalogRebuildWorkflow(input: { target?: string } = {}): Promise<CatalogEntry[]> {
  return catalogRebuild(input);
}

export async function describeArtifactWorkflow(input: { id: string; target?: string }): Promise<ArtifactDescription> {
  return describeArtifact(input);
}
