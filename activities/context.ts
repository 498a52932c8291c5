// What every activity factory is built from: one Env and one Catalog per target for the whole
// worker, so the factories share S3 connections and the catalogs' serial index updates.
import { Catalog } from './catalog/catalog.js';
import { Env, type Deps } from './deps.js';

export interface ActivityContext {
  env: Env;
  /** The repository's (primary target's) catalog. */
  catalog: Catalog;
  /** The catalog of a target by name; the same object on every call. */
  catalogOf(name: string): Promise<Catalog>;
}

export function createActivityContext(deps: Deps): ActivityContext {
  const env = new Env(deps);
  const catalog = new Catalog(env.primary);
  const catalogs = new Map<string, Catalog>([[env.primary.name, catalog]]);
  /** One Catalog per target, so index updates on a target stay serial within this worker. */
  const catalogOf = async (name: string): Promise<Catalog> => {
    let c = catalogs.get(name);
    if (!c) catalogs.set(name, (c = new Catalog(await env.target(name))));
    return c;
  };
  return { env, catalog, catalogOf };
}
