// The catalogs of the targets as the CLI reads them: listings by pages, one artifact described, and an
// index rebuilt from the storage.
import type { ArtifactDescription } from '../../core/catalog/describe.js';
import { PageRequestError, readPage, type CatalogPage, type PageRequest } from '../../core/catalog/page.js';
import type { ActivityContext } from '../context.js';
import { fatal, FailureType } from '../errors.js';
import { targetNames } from '../storage/target.js';
import { describeArtifact } from './describe.js';

export interface CatalogListInput extends PageRequest {
  cloud?: string;
  /** Only this target (its failure fails the page); default every target, the repository first. */
  target?: string;
}

/** Rows of one target after a rebuild. */
export interface CatalogRebuilt {
  target: string;
  rows: number;
  verified: number;
}

export function catalogActivities({ env, catalogOf }: ActivityContext) {
  const { deps } = env;
  return {
    /**
     * One page of the rows of one target, or of every configured target (core/catalog/page.ts).
     * With every target, one that cannot be read (Swift down, a share not mounted) is named on
     * the page where its rows would have come, not fatal — except the repository.
     */
    async catalogList(input: CatalogListInput): Promise<CatalogPage> {
      const names = input.target ? [input.target] : targetNames(deps.config);
      try {
        return await readPage(
          names,
          async (name, asOf) => {
            try {
              return await (await catalogOf(name)).list(input.cloud, { madeSince: asOf });
            } catch (e) {
              if (input.target || name === deps.config.repository.name) throw e;
              return { unavailable: e instanceof Error ? e.message : String(e) };
            }
          },
          input,
          Date.now(),
        );
      } catch (e) {
        if (!(e instanceof PageRequestError)) throw e;
        throw fatal(
          FailureType.ConfigInvalid,
          e.message,
          'leave limit and maxBytes unset for the defaults; pass a page\'s "next" back unchanged, or list again from the first page',
        );
      }
    },

    /** One artifact with its chain, dependents, files and recipe (`osbackup describe`). */
    async describeArtifact(input: { id: string; target?: string }): Promise<ArtifactDescription> {
      const name = input.target ?? deps.config.repository.name;
      return describeArtifact(await env.target(name), await catalogOf(name), input.id);
    },

    /** Rebuilds the index of one target (default: every target) from the storage alone; rows per target. */
    async catalogRebuild(input: { target?: string } = {}): Promise<CatalogRebuilt[]> {
      const names = input.target ? [input.target] : targetNames(deps.config);
      const out: CatalogRebuilt[] = [];
      for (const n of names) {
        const rows = await (await catalogOf(n)).rebuild();
        out.push({ target: n, rows: rows.length, verified: rows.filter((r) => r.verification === 'VERIFIED').length });
      }
      return out;
    },
  };
}
