// Catalog pages (core/catalog/page.ts): the pages of a listing put together are the listing, in
// order, whatever the limits; every page keeps its byte budget; a cursor still places the next
// page when rows come and go between pages; targets that cannot be read are named once.
import type { CatalogEntry } from '../../core/catalog/catalog.js';
import { byStart } from '../../core/catalog/merge.js';
import {
  DEFAULT_PAGE_BYTES,
  DEFAULT_PAGE_ROWS,
  decodeCursor,
  encodeCursor,
  MAX_PAGE_BYTES,
  MAX_PAGE_ROWS,
  MIN_PAGE_BYTES,
  PageRequestError,
  readPage,
  type CatalogPage,
  type PageRequest,
  type TargetRows,
} from '../../core/catalog/page.js';

const NOW = Date.UTC(2027, 0, 1);

function row(target: string, i: number, o: Partial<CatalogEntry> = {}): CatalogEntry {
  const at = new Date(Date.UTC(2026, 0, 1) + Math.floor(i / 3) * 3600_000).toISOString();
  const id = `db-${i % 2 ? 'incr' : 'full'}-${String(i).padStart(5, '0')}`;
  return {
    id,
    cloud: i % 5 === 0 ? 'b' : 'a',
    component: 'database',
    kind: 'full',
    parentId: null,
    startedAt: at,
    completedAt: at,
    sourceHost: 'ctl1',
    bytes: 1000 + i,
    streamBytes: 3000 + i,
    sha256: 'ab'.repeat(32),
    path: `clouds/a/database/${id}/data.xb.zst.gpg`,
    toLsn: String(i * 10),
    binlog: null,
    verification: 'UNVERIFIED',
    lastVerifiedAt: null,
    target,
    check: 'UNCHECKED',
    lastCheckedAt: null,
    imported: null,
    ...o,
  };
}

/** Rows of each target in catalog order, as Catalog.list() gives them. */
type Store = Map<string, CatalogEntry[] | { unavailable: string }>;

function store(counts: Record<string, number | string>): Store {
  return new Map(
    Object.entries(counts).map(([t, n]) => [
      t,
      typeof n === 'string' ? { unavailable: n } : Array.from({ length: n }, (_, i) => row(t, i)).sort(byStart),
    ]),
  );
}

const reader = (s: Store, reads: { target: string; asOf: number }[] = []) =>
  async function read(target: string, asOf: number): Promise<TargetRows> {
    reads.push({ target, asOf });
    return s.get(target)!;
  };

const bytesOf = (p: CatalogPage) => Buffer.byteLength(JSON.stringify(p));

/** Every page of the listing, from the first until one has no `next`. */
async function allPages(s: Store, req: Omit<PageRequest, 'after'> = {}, targets = [...s.keys()]) {
  const pages: CatalogPage[] = [];
  let after: string | undefined;
  do {
    const p = await readPage(targets, reader(s), { ...req, after }, NOW);
    pages.push(p);
    if (after) expect(p.next).not.toBe(after);
    after = p.next;
  } while (after);
  return pages;
}

const whole = (s: Store) => [...s.values()].flatMap((v) => (Array.isArray(v) ? v : []));
const keyOf = (r: CatalogEntry) => `${r.target}/${r.cloud}/${r.component}/${r.id}`;

test('the pages put together are the listing, in order, with no row twice or missing, at any limits', async () => {
  const s = store({ repo: 457, copy: 0, far: 1, nas: 263 });
  const expected = whole(s).map(keyOf);
  for (const req of [{}, { limit: 1 }, { limit: 7 }, { limit: 456 }, { limit: 457 }, { maxBytes: MIN_PAGE_BYTES }]) {
    const pages = await allPages(s, req);
    const got = pages.flatMap((p) => p.rows.map(keyOf));
    expect(got).toEqual(expected);
    const limit = req.limit ?? DEFAULT_PAGE_ROWS;
    for (const p of pages) {
      expect(p.rows.length).toBeLessThanOrEqual(limit);
      expect(bytesOf(p)).toBeLessThanOrEqual(req.maxBytes ?? DEFAULT_PAGE_BYTES);
      // only the last page may be empty
      if (p.next) expect(p.rows.length).toBeGreaterThan(0);
    }
    if (req.limit === 1) expect(pages.length).toBe(expected.length);
  }
});

test('the byte budget cuts a page before the row limit, and each page is filled close to it', async () => {
  const s = store({ repo: 3000 });
  const pages = await allPages(s, { maxBytes: 64 * 1024, limit: MAX_PAGE_ROWS });
  const rowBytes = Buffer.byteLength(JSON.stringify(whole(s)[0]));
  for (const p of pages.slice(0, -1)) {
    expect(bytesOf(p)).toBeLessThanOrEqual(64 * 1024);
    // one more row would not have fit
    expect(bytesOf(p) + rowBytes + 1).toBeGreaterThan(64 * 1024 - 200);
  }
  expect(pages.flatMap((p) => p.rows)).toHaveLength(3000);
});

test('the defaults keep a page of any catalog far below Temporal’s payload limit', async () => {
  const s = store({ repo: 20_000 });
  const p = await readPage(['repo'], reader(s), {}, NOW);
  expect(p.rows.length).toBeGreaterThan(100);
  expect(p.next).toBeDefined();
  expect(bytesOf(p)).toBeLessThanOrEqual(DEFAULT_PAGE_BYTES);
  // under the server's 512 KiB warning, with room for the codec's framing
  expect(DEFAULT_PAGE_BYTES).toBeLessThan(512 * 1024 - 4096);
});

test('a row bigger than the budget comes alone, and the listing still ends', async () => {
  const s = store({ repo: 6 });
  const rows = s.get('repo') as CatalogEntry[];
  rows[2] = { ...rows[2]!, kind: `logical (${'x'.repeat(10_000)})` };
  const pages = await allPages(s, { maxBytes: MIN_PAGE_BYTES });
  expect(pages.flatMap((p) => p.rows.map((r) => r.id))).toEqual(rows.map((r) => r.id));
  const alone = pages.find((p) => p.rows.some((r) => r.id === rows[2]!.id))!;
  expect(alone.rows).toHaveLength(1);
  expect(bytesOf(alone)).toBeGreaterThan(MIN_PAGE_BYTES);
});

test('a cursor still places the next page when its row, or rows around it, change between pages', async () => {
  const s = store({ repo: 30, nas: 10 });
  const rows = s.get('repo') as CatalogEntry[];
  const first = await readPage(['repo', 'nas'], reader(s), { limit: 10 }, NOW);
  const last = first.rows.at(-1)!;
  expect(last).toBe(rows[9]);
  // the cursor's own row is deleted, one before it too; one is added before and one after it
  const before = { ...rows[3]!, id: 'db-added-before' };
  const after = { ...rows[14]!, id: 'db-added-after' };
  const changed = [...rows.filter((r) => r !== last && r !== rows[5]), before, after].sort(byStart);
  s.set('repo', changed);
  const second = await readPage(['repo', 'nas'], reader(s), { limit: 10, after: first.next }, NOW);
  expect(second.rows.map((r) => r.id)).toEqual(
    changed
      .filter((r) => byStart(r, last) > 0)
      .slice(0, 10)
      .map((r) => r.id),
  );
  expect(second.rows[0]).toBe(rows[10]);
  expect(second.rows.map((r) => r.id)).toContain('db-added-after');
  // a target emptied between pages: the listing goes on with the next one
  s.set('repo', []);
  const third = await readPage(['repo', 'nas'], reader(s), { limit: 10, after: second.next }, NOW);
  expect(third.rows.map(keyOf)).toEqual((s.get('nas') as CatalogEntry[]).map(keyOf));
});

test('a target that cannot be read is named once, on the page where its rows would have come', async () => {
  const s = store({ repo: 25, nas: 'the share is not mounted', far: 12 });
  const pages = await allPages(s, { limit: 10 });
  expect(pages.map((p) => p.unavailable.map((u) => u.target))).toEqual([[], [], ['nas'], []]);
  expect(pages[2]!.rows.map((r) => r.target)).toEqual([...Array(5).fill('repo'), ...Array(5).fill('far')]);
  expect(pages.flatMap((p) => p.rows)).toHaveLength(37);
  // one that does not fit the page's budget comes first on the next page, not twice
  const rowBytes = Buffer.byteLength(JSON.stringify(row('repo', 0))) + 1;
  const n = Math.floor((MIN_PAGE_BYTES - 300) / rowBytes);
  const tight = store({ repo: n, nas: 'x'.repeat(5000), far: 3 });
  const cut = await allPages(tight, { maxBytes: MIN_PAGE_BYTES });
  expect(cut.map((p) => [p.rows.length, p.unavailable.map((u) => u.target)])).toEqual([
    [n, []],
    [3, ['nas']],
  ]);
  // a long reason is cut: it must not crowd out rows
  expect(cut[1]!.unavailable[0]!.reason).toHaveLength(1000);
  for (const p of cut) expect(bytesOf(p)).toBeLessThanOrEqual(MIN_PAGE_BYTES);
});

test('a target is read only when the page reaches it, with the time the listing began', async () => {
  const s = store({ repo: 25, nas: 5 });
  const reads: { target: string; asOf: number }[] = [];
  const first = await readPage(['repo', 'nas'], reader(s, reads), { limit: 10 }, NOW);
  expect(reads).toEqual([{ target: 'repo', asOf: NOW }]);
  await readPage(['repo', 'nas'], reader(s, reads), { limit: 20, after: first.next }, NOW + 60_000);
  expect(reads.slice(1)).toEqual([
    { target: 'repo', asOf: NOW },
    { target: 'nas', asOf: NOW },
  ]);
});

test('an empty listing is one page without next', async () => {
  expect(await readPage(['repo', 'nas'], reader(store({ repo: 0, nas: 0 })), {}, NOW)).toEqual({
    rows: [],
    unavailable: [],
  });
});

test('limits and cursors are validated', async () => {
  const s = store({ repo: 3 });
  const read = reader(s);
  for (const bad of [
    { limit: 0 },
    { limit: 1.5 },
    { limit: MAX_PAGE_ROWS + 1 },
    { maxBytes: MIN_PAGE_BYTES - 1 },
    { maxBytes: MAX_PAGE_BYTES + 1 },
    { limit: Number.NaN },
    { after: 'not-a-cursor' },
    { after: encodeCursor({ target: 'gone', asOf: NOW }) },
  ])
    await expect(readPage(['repo'], read, bad, NOW)).rejects.toThrow(PageRequestError);
  await expect(readPage(['repo'], read, { after: 'eyJ2IjoyfQ' }, NOW)).rejects.toThrow(/not a catalog page cursor/);
  await expect(
    readPage(['repo'], read, { limit: MAX_PAGE_ROWS, maxBytes: MAX_PAGE_BYTES }, NOW),
  ).resolves.toBeDefined();
  const p = {
    target: 'repo',
    row: { startedAt: '2026-01-01T00:00:00Z', id: 'é', cloud: 'a', component: 'dump' },
    asOf: NOW,
  };
  expect(decodeCursor(encodeCursor(p))).toEqual(p);
  expect(encodeCursor(p)).toMatch(/^[A-Za-z0-9_-]+$/);
});
