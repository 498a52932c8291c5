// The catalog as the client reads it: one catalogListWorkflow run per page (core/catalog/page.ts),
// each asked with the previous page's `next`, so no Temporal payload carries the whole catalog.
import type { Client } from '@temporalio/client';
import type { Config } from '../config/schema.js';
import { taskQueueOf } from '../config/task-queues.js';
import type { CatalogListing } from '../core/catalog/catalog.js';
import type { CatalogPage } from '../core/catalog/page.js';
import type { CatalogListInput } from '../activities/catalog/activities.js';

export interface CatalogQuery {
  cloud?: string;
  /** Only this target; default every target, the repository first. */
  target?: string;
}

/**
 * Every page of the listing, in order. `from`: a page already read (a report run's), whose
 * `next` the listing continues from. Run ids are `<idPrefix>:<ms>`, then `:p<n>` per page.
 */
export async function* catalogPages(
  client: Client,
  config: Config,
  query: CatalogQuery,
  opts: { idPrefix?: string; from?: CatalogPage } = {},
): AsyncGenerator<CatalogPage> {
  const id = `${opts.idPrefix ?? 'catalog-list'}:${Date.now()}`;
  let page = opts.from;
  if (page) yield page;
  for (let n = 1; !page || page.next; n++) {
    const after = page?.next;
    const input: CatalogListInput = { ...query, ...(after ? { after } : {}) };
    page = (await client.workflow.execute('catalogListWorkflow', {
      taskQueue: taskQueueOf(config, query.cloud),
      workflowId: n === 1 ? id : `${id}:p${n}`,
      args: [input],
    })) as CatalogPage;
    // a worker of another version answering with the page it was asked past would never end
    if (after && page.next === after)
      throw new Error(`the catalog listing did not move past its cursor at page ${n}: upgrade every worker`);
    yield page;
  }
}

/** The whole listing: every page's rows in order, and every target that could not be read. */
export async function catalogListing(
  client: Client,
  config: Config,
  query: CatalogQuery,
  opts: { idPrefix?: string; from?: CatalogPage } = {},
): Promise<CatalogListing> {
  const out: CatalogListing = { rows: [], unavailable: [] };
  for await (const p of catalogPages(client, config, query, opts)) {
    for (const r of p.rows) out.rows.push(r);
    out.unavailable.push(...p.unavailable);
  }
  return out;
}
