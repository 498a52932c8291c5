// Catalog reads go through a workflow so the client needs no access to the repository itself.
// A listing is one page per run (core/catalog/page.ts): the client asks again with the page's
// `next` (client/catalog-pages.ts), so no result nears Temporal's payload limit.
import type { Activities } from '../activities/index.js';
import type { CatalogListInput, CatalogRebuilt } from '../activities/catalog/activities.js';
import type { ArtifactDescription } from '../core/catalog/describe.js';
import type { CatalogPage } from '../core/catalog/page.js';
import { dataBoundActivities, dataBoundCall, shortCall, shortActivities } from './options.js';

const { describeArtifact } = shortActivities(shortCall);
// a rebuild reads every manifest of a target, a listing's first page every record and folder
const { catalogList, catalogRebuild } = dataBoundActivities(dataBoundCall);

export async function catalogListWorkflow(input: CatalogListInput): Promise<CatalogPage> {
  return catalogList(input);
}

/** Rows per target after the rebuild (the rows themselves are listed by pages). */
export async function catalogRebuildWorkflow(input: { target?: string } = {}): Promise<CatalogRebuilt[]> {
  return catalogRebuild(input);
}

export async function describeArtifactWorkflow(input: { id: string; target?: string }): Promise<ArtifactDescription> {
  return describeArtifact(input);
}
