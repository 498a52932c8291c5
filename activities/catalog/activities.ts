// The catalogs of the targets as the CLI reads them: listings, one artifact described, and an
// index rebuilt from the storage.
import type { CatalogEntry, CatalogListing } from '../../core/catalog/catalog.js';
import type { ArtifactDescription } from '../../core/catalog/describe.js';
import type { ActivityContext } from '../context.js';
import { targetNames } from '../storage/target.js';
import { describeArtifact } from './describe.js';

export function catalogActivities({ env, catalogOf }: ActivityContext) {
  const { deps } = env;
  return {
    /** Rows of one target, or of every configured target (the repository first). */
    async catalogList(input: { cloud?: string; target?: string }): Promise<CatalogListing> {
      if (input.target) return { rows: await (await catalogOf(input.target)).list(input.cloud), unavailable: [] };
      // every target: one that cannot be read (Swift down, a share not mounted) is named, not fatal
      const out: CatalogListing = { rows: [], unavailable: [] };
      for (const n of targetNames(deps.config)) {
        try {
          out.rows.push(...(await (await catalogOf(n)).list(input.cloud)));
        } catch (e) {
          if (n === deps.config.repository.name) throw e;
          out.unavailable.push({ target: n, reason: e instanceof Error ? e.message : String(e) });
        }
      }
      return out;
    },

    /** One artifact with its chain, dependents, files and recipe (`osbackup describe`). */
    async describeArtifact(input: { id: string; target?: string }): Promise<ArtifactDescription> {
      const name = input.target ?? deps.config.repository.name;
      return describeArtifact(await env.target(name), await catalogOf(name), input.id);
    },

    /** Rebuilds the index of one target (default: every target) from the storage alone. */
    async catalogRebuild(input: { target?: string } = {}): Promise<CatalogEntry[]> {
      const names = input.target ? [input.target] : targetNames(deps.config);
      const out: CatalogEntry[] = [];
      for (const n of names) out.push(...(await (await catalogOf(n)).rebuild()));
      return out;
    },
  };
}
