// Catalog reads go through a workflow so the client needs no access to the repository itself.
import type { Activities } from '../activities/index.js';
import type { CatalogEntry, CatalogListing } from '../core/catalog/catalog.js';
import type { ArtifactDescription } from '../core/catalog/describe.js';
import { dataBoundActivities, dataBoundCall, shortCall, shortActivities } from './options.js';

const { catalogList, describeArtifact } = shortActivities(shortCall);
// a rebuild reads every manifest of a target
const { catalogRebuild } = dataBoundActivities(dataBoundCall);

export async function catalogListWorkflow(input: { cloud?: string; target?: string }): Promise<CatalogListing> {
  return catalogList(input);
}

export async function catalogRebuildWorkflow(input: { target?: string } = {}): Promise<CatalogEntry[]> {
  return catalogRebuild(input);
}

export async function describeArtifactWorkflow(input: { id: string; target?: string }): Promise<ArtifactDescription> {
  return describeArtifact(input);
}
