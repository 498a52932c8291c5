// Catalog listings cross Temporal by pages: an activity's result and a workflow's result are
// each one payload, and Temporal refuses a payload over 2 MB (and warns over 512 KiB), while a
// catalog grows without bound. A page holds at most DEFAULT_PAGE_ROWS rows and
// DEFAULT_PAGE_BYTES of JSON; the caller asks again with the page's `next` until there is none.
//
// Rows come target by target (the order targets are configured in, the repository first), each
// target's in catalog order (byStart). The cursor is the sort key of the last row returned, not
// an offset: a row deleted or added between two pages moves no other row, so the next page
// starts exactly after the last row seen. The cursor also carries when the listing began, so
// later pages may be served from a merged listing made since then (activities/catalog/catalog.ts).
import type { CatalogEntry, CatalogListing } from './catalog.js';
import { byStart, type StartKey } from './merge.js';

/**
 * 384 KiB of JSON: under Temporal's 512 KiB warning threshold with room for the payload
 * framing and the codec's encryption (~100 bytes), a fifth of the 2 MB limit. A page travels
 * twice (the activity's result, then the workflow's), each its own payload. Rows of a database
 * backup are ~650 bytes, so the byte budget cuts a page at ~600 of them before the row limit.
 */
export const DEFAULT_PAGE_BYTES = 384 * 1024;
export const DEFAULT_PAGE_ROWS = 1000;
/** What a caller may ask for at most: half the 2 MB limit. */
export const MAX_PAGE_BYTES = 1024 * 1024;
export const MAX_PAGE_ROWS = 10_000;
/** Below this a page could not hold a cursor and an ordinary row. */
export const MIN_PAGE_BYTES = 4 * 1024;
/** An unreadable target's reason is cut to this many characters: it must not crowd out rows. */
const REASON_CHARS = 1000;

/** One page of a listing; `next` is set when more may follow (a last page may then be empty). */
export interface CatalogPage extends CatalogListing {
  next?: string;
}

export interface PageRequest {
  /** The `next` of the previous page, unchanged; absent for the first page. */
  after?: string;
  /** Rows at most (default DEFAULT_PAGE_ROWS). */
  limit?: number;
  /** Bytes of the page's JSON at most (default DEFAULT_PAGE_BYTES); a single larger row still comes, alone. */
  maxBytes?: number;
}

/** A request that cannot be served: bad limits or a cursor that is not one a page returned. */
export class PageRequestError extends Error {
  override name = 'PageRequestError';
}

/** Where a page ended: after one row of a target, or (no `row`) after all of it. */
export interface PagePosition {
  target: string;
  row?: StartKey;
  /** When the listing's first page was made (ms since the epoch). */
  asOf: number;
}

export function pageLimits(r: Pick<PageRequest, 'limit' | 'maxBytes'>): { limit: number; maxBytes: number } {
  const limit = r.limit ?? DEFAULT_PAGE_ROWS;
  const maxBytes = r.maxBytes ?? DEFAULT_PAGE_BYTES;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_ROWS)
    throw new PageRequestError(`page limit ${limit} is not a whole number of rows from 1 to ${MAX_PAGE_ROWS}`);
  if (!Number.isInteger(maxBytes) || maxBytes < MIN_PAGE_BYTES || maxBytes > MAX_PAGE_BYTES)
    throw new PageRequestError(
      `page size ${maxBytes} is not a whole number of bytes from ${MIN_PAGE_BYTES} to ${MAX_PAGE_BYTES}`,
    );
  return { limit, maxBytes };
}

/** UTF-8 length of a string (JSON.stringify escapes lone surrogates, so pairs are whole). */
function utf8Bytes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

const jsonBytes = (x: unknown) => utf8Bytes(JSON.stringify(x));

function base64url(text: string): string {
  let bin = '';
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function unbase64url(s: string): string {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

export function encodeCursor(p: PagePosition): string {
  const k = p.row ? [p.row.startedAt, p.row.id, p.row.cloud, p.row.component] : undefined;
  return base64url(JSON.stringify({ v: 1, t: p.target, ...(k ? { k } : {}), a: p.asOf }));
}

export function decodeCursor(cursor: string): PagePosition {
  let c: { v?: unknown; t?: unknown; k?: unknown; a?: unknown };
  try {
    c = JSON.parse(unbase64url(cursor)) as typeof c;
  } catch {
    c = {};
  }
  const k = c.k;
  const keyOk = k === undefined || (Array.isArray(k) && k.length === 4 && k.every((x) => typeof x === 'string'));
  if (c === null || c.v !== 1 || typeof c.t !== 'string' || typeof c.a !== 'number' || !keyOk)
    throw new PageRequestError(
      `"${cursor.slice(0, 80)}" is not a catalog page cursor (pass a page's "next" back unchanged, or list again from the first page)`,
    );
  const [startedAt, id, cloud, component] = (k ?? []) as string[];
  return {
    target: c.t,
    asOf: c.a,
    ...(k ? { row: { startedAt: startedAt!, id: id!, cloud: cloud!, component: component! } } : {}),
  };
}

/** The first index of `rows` (in byStart order) that comes after `key`. */
function firstAfter(rows: readonly CatalogEntry[], key: StartKey): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (byStart(rows[mid]!, key) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** One target's rows in catalog order, or why the target could not be read. */
export type TargetRows = readonly CatalogEntry[] | { unavailable: string };

/**
 * The page after `request.after` of the listing of `targets` (in order). `read` is asked for a
 * target only when the page reaches it, with the time the listing began. A target that cannot
 * be read is named on the page where its rows would have come. Something always comes — a
 * row bigger than the budget comes alone — so paging always ends.
 */
export async function readPage(
  targets: readonly string[],
  read: (target: string, asOf: number) => Promise<TargetRows>,
  request: PageRequest,
  now: number,
): Promise<CatalogPage> {
  const { limit, maxBytes } = pageLimits(request);
  const after = request.after === undefined ? undefined : decodeCursor(request.after);
  let first = 0;
  if (after) {
    const i = targets.indexOf(after.target);
    if (i < 0)
      throw new PageRequestError(
        `the listing was paged up to target "${after.target}", which this listing no longer has: list again from the first page`,
      );
    first = after.row ? i : i + 1;
  }
  const asOf = after?.asOf ?? now;
  const rows: CatalogEntry[] = [];
  const unavailable: CatalogPage['unavailable'] = [];
  // what is taken so far, as {"rows":[…],"unavailable":[…]} with its commas
  let bytes = jsonBytes({ rows, unavailable });
  let pos = after;
  const empty = () => !rows.length && !unavailable.length;
  // taking `extra` bytes leaves the page ending at `at` within the budget (or the page is still empty)
  const fits = (extra: number, at: PagePosition) =>
    empty() || bytes + extra + utf8Bytes(`,"next":"${encodeCursor(at)}"`) <= maxBytes;
  const done = (): CatalogPage => ({ rows, unavailable, next: encodeCursor(pos!) });

  for (let i = first; i < targets.length; i++) {
    if (rows.length >= limit) return done();
    const target = targets[i]!;
    const got = await read(target, asOf);
    const passed: PagePosition = { target, asOf };
    if (!Array.isArray(got)) {
      const u = { target, reason: (got as { unavailable: string }).unavailable.slice(0, REASON_CHARS) };
      const size = jsonBytes(u) + (unavailable.length ? 1 : 0);
      if (!fits(size, passed)) return done();
      unavailable.push(u);
      bytes += size;
      pos = passed;
      continue;
    }
    const list = got as readonly CatalogEntry[];
    for (let j = after?.row && target === after.target ? firstAfter(list, after.row) : 0; j < list.length; j++) {
      const r = list[j]!;
      const at: PagePosition = {
        target,
        row: { startedAt: r.startedAt, id: r.id, cloud: r.cloud, component: r.component },
        asOf,
      };
      const size = jsonBytes(r) + (rows.length ? 1 : 0);
      if (rows.length >= limit || !fits(size, at)) return done();
      rows.push(r);
      bytes += size;
      pos = at;
    }
    // a target's own end marker is shorter than its last row's; an empty target's may not fit
    if (!fits(0, passed)) return done();
    pos = passed;
  }
  return { rows, unavailable };
}
