import { planImageExportRetention } from '../../core/openstack/resources.js';

const now = new Date('2026-11-30T06:00:00Z');
const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000).toISOString();

test('an export is kept while its image is in Glance, whatever its age', () => {
  const r = planImageExportRetention(['a'], new Set(['a']), { a: daysAgo(400) }, 30, now);
  expect(r).toEqual({ remove: [], keep: [{ id: 'a', reason: 'the image is in Glance' }], goneSince: {} });
});

test('an image first seen gone is noted now and kept; removed once gone longer than the days', () => {
  const first = planImageExportRetention(['a'], new Set(), {}, 30, now);
  expect(first.remove).toEqual([]);
  expect(first.goneSince).toEqual({ a: now.toISOString() });
  const within = planImageExportRetention(['a'], new Set(), { a: daysAgo(29.9) }, 30, now);
  expect(within.keep.map((k) => k.id)).toEqual(['a']);
  expect(within.goneSince).toEqual({ a: daysAgo(29.9) });
  const after = planImageExportRetention(['a'], new Set(), { a: daysAgo(30.1) }, 30, now);
  expect(after.remove).toEqual([
    { id: 'a', reason: `the image is gone from Glance since ${daysAgo(30.1)} (more than 30 days)` },
  ]);
  expect(after.goneSince).toEqual({});
});

test('an image that came back starts over; exports no longer in the repository are forgotten', () => {
  const r = planImageExportRetention(['a'], new Set(['a']), { a: daysAgo(10), b: daysAgo(1) }, 30, now);
  expect(r.goneSince).toEqual({});
  const later = planImageExportRetention(['a'], new Set(), r.goneSince, 30, now);
  expect(later.goneSince).toEqual({ a: now.toISOString() });
});

test('0 days: kept at the first run that finds it gone, removed at the next', () => {
  const first = planImageExportRetention(['a'], new Set(), {}, 0, now);
  expect(first.remove).toEqual([]);
  const next = planImageExportRetention(['a'], new Set(), first.goneSince, 0, new Date(now.getTime() + 1000));
  expect(next.remove.map((x) => x.id)).toEqual(['a']);
});
