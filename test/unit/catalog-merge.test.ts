// The catalog's merge: a cache is believed only while the storage lists the basis it was
// derived from; a vanished artifact is forgotten only with a deletion record, else MISSING.
import type { CatalogEntry } from '../../core/catalog/catalog.js';
import { basisOf, mergeCatalog, type Cached } from '../../core/catalog/merge.js';

const dir = 'clouds/c/database/x';
const files = [
  { key: `${dir}/manifest.json`, bytes: 900, modifiedAt: '2026-11-01T00:00:00.000Z' },
  { key: `${dir}/data.xb.zst.gpg`, bytes: 5, modifiedAt: '2026-11-01T00:00:00.000Z' },
];
const check = { key: `${dir}/checks/20261102T000000000Z.json`, bytes: 200, modifiedAt: '2026-11-02T00:00:00.000Z' };

function cached(id: string, basis: string, over: Partial<CatalogEntry> = {}): Cached {
  return {
    basis,
    entry: { id, cloud: 'c', component: 'database', check: 'UNCHECKED', lastCheckedAt: null, ...over } as CatalogEntry,
  };
}

test('the basis changes with the manifest and the records, not with the data or other files', () => {
  const b = basisOf(dir, files);
  expect(basisOf(dir, [...files].reverse())).toBe(b);
  expect(basisOf(dir, [...files, { key: `${dir}/RESTORE.md`, bytes: 1, modifiedAt: null }])).toBe(b);
  expect(basisOf(dir, [files[0]!, { ...files[1]!, bytes: 6 }])).toBe(b);
  expect(basisOf(dir, [...files, check])).not.toBe(b);
  expect(basisOf(dir, [...files, { ...check, key: check.key.replace('checks', 'verifications') }])).not.toBe(b);
  expect(basisOf(dir, [{ ...files[0]!, modifiedAt: '2026-11-03T00:00:00.000Z' }, files[1]!])).not.toBe(b);
});

test('a cache is used only when its basis is what the storage lists; otherwise the folder is read again', () => {
  const r = mergeCatalog({
    snapshot: new Map([
      ['c/database/a', cached('a', 'A1')],
      ['c/database/b', cached('b', 'B1')],
      ['c/database/d', cached('d', 'D1')],
    ]),
    // a newer record for b; a stale record for d (written by a worker that read the folder before a change)
    records: new Map([
      ['c/database/b', cached('b', 'B2', { check: 'CHECKED' })],
      ['c/database/d', cached('d', 'D0')],
    ]),
    deleted: new Set(),
    storage: new Map([
      ['c/database/a', 'A1'],
      ['c/database/b', 'B2'],
      ['c/database/d', 'D2'],
      ['c/database/e', 'E1'],
    ]),
    now: '2026-11-05T00:00:00.000Z',
  });
  expect([...r.entries].map(([k, c]) => [k, c.basis, c.entry.check])).toEqual([
    ['c/database/a', 'A1', 'UNCHECKED'],
    ['c/database/b', 'B2', 'CHECKED'],
  ]);
  expect(r.stale).toEqual(['c/database/d', 'c/database/e']);
  expect(r.changed).toBe(true);
});

test('a vanished artifact: dropped with a deletion record, else MISSING from the first time it was seen so', () => {
  const r = mergeCatalog({
    snapshot: new Map([
      ['c/database/gone', cached('gone', 'G1')],
      ['c/database/lost', cached('lost', 'L1')],
      ['c/database/old', cached('old', 'O1', { check: 'MISSING', lastCheckedAt: '2026-10-01T00:00:00.000Z' })],
    ]),
    // a worker that read "gone" before retention deleted it wrote its record after the deletion record
    records: new Map([['c/database/gone', cached('gone', 'G1', { check: 'CHECKED' })]]),
    deleted: new Set(['c/database/gone']),
    storage: new Map(),
    now: '2026-11-05T00:00:00.000Z',
  });
  expect([...r.entries.values()].map((c) => [c.entry.id, c.entry.check, c.entry.lastCheckedAt])).toEqual([
    ['lost', 'MISSING', '2026-11-05T00:00:00.000Z'],
    ['old', 'MISSING', '2026-10-01T00:00:00.000Z'],
  ]);
  expect(r.changed).toBe(true);
});

test('nothing to rewrite when the snapshot already says what the storage lists; a MISSING one that came back is read again', () => {
  const snapshot = new Map([
    ['c/database/a', cached('a', 'A1')],
    ['c/database/old', cached('old', 'O1', { check: 'MISSING', lastCheckedAt: '2026-10-01T00:00:00.000Z' })],
  ]);
  const steady = mergeCatalog({
    snapshot,
    records: new Map([['c/database/a', cached('a', 'A1')]]),
    deleted: new Set(['c/database/long-gone']),
    storage: new Map([['c/database/a', 'A1']]),
    now: '2026-11-05T00:00:00.000Z',
  });
  expect(steady.changed).toBe(false);
  expect(steady.stale).toEqual([]);
  const back = mergeCatalog({
    snapshot,
    records: new Map(),
    deleted: new Set(),
    storage: new Map([
      ['c/database/a', 'A1'],
      ['c/database/old', 'O1'],
    ]),
    now: '2026-11-05T00:00:00.000Z',
  });
  expect(back.stale).toEqual(['c/database/old']);
});
