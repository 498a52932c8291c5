// `osbackup describe`: one artifact as the operator needs to see it before trusting it — its
// catalog row, the chain it needs, what depends on it, its stored files and the hand recipe.
import type { CatalogEntry } from '../../core/catalog/catalog.js';
import type { ArtifactDescription } from '../../core/catalog/describe.js';
import { artifactDir, MANIFEST_FILE, RECIPE_FILE } from '../../core/manifest/manifest.js';
import { type AnyManifest } from '../../core/manifest/any-manifest.js';
import { fatal, FailureType } from '../errors.js';
import type { TargetStore } from '../storage/target.js';
import type { Catalog } from './catalog.js';

/** Parents first, ending with `entry`; a parent the catalog lacks ends the walk (and is named). */
function chainOf(
  entry: CatalogEntry,
  byId: Map<string, CatalogEntry>,
): { chain: CatalogEntry[]; missingParent: string | null } {
  const chain = [entry];
  const seen = new Set([entry.id]);
  for (let cur = entry; cur.parentId; ) {
    const parent = byId.get(cur.parentId);
    if (!parent || seen.has(parent.id)) return { chain: chain.reverse(), missingParent: cur.parentId };
    chain.push(parent);
    seen.add(parent.id);
    cur = parent;
  }
  return { chain: chain.reverse(), missingParent: null };
}

export async function describeArtifact(
  target: TargetStore,
  catalog: Catalog,
  id: string,
): Promise<ArtifactDescription> {
  const rows = await catalog.list();
  const entry = rows.find((r) => r.id === id);
  if (!entry) {
    const near = rows
      .filter((r) => r.id.includes(id) || id.includes(r.id))
      .map((r) => r.id)
      .slice(0, 5);
    throw fatal(
      FailureType.BackupNotFound,
      `no artifact "${id}" on target "${target.name}"${near.length ? ` (similar: ${near.join(', ')})` : ''}`,
      '`osbackup catalog list` shows the ids; add --target <name> for a copy on another target',
    );
  }
  const byId = new Map(rows.filter((r) => r.cloud === entry.cloud).map((r) => [r.id, r]));
  const { chain, missingParent } = chainOf(entry, byId);
  const dependents = rows.filter((r) => r.cloud === entry.cloud && r.parentId === id).map((r) => r.id);
  const dir = artifactDir(entry.cloud, entry.component, entry.id);
  const text = await target.readText(`${dir}/${MANIFEST_FILE}`);
  const manifest = text ? (JSON.parse(text) as AnyManifest) : null;
  const files = (await target.list(`${dir}/`)).map((o) => ({ key: o.key.slice(dir.length + 1), bytes: o.bytes }));
  const recipe = (await target.readText(`${dir}/${RECIPE_FILE}`)) ?? null;
  return {
    target: target.name,
    location: target.location,
    entry,
    chain,
    missingParent,
    dependents,
    manifest,
    files,
    recipe,
  };
}
