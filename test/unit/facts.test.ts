import { compareFacts, comparisonPassed, recordFacts } from '../../core/manifest/facts.js';

const t = (table: string, rows: number, checksum: string | null = String(rows * 7)) => ({ table, rows, checksum });

describe('table facts', () => {
  const before = [t('a.x', 10), t('a.y', 5), t('a.z', 1)];
  const after = [t('a.x', 10), t('a.y', 6), t('a.z', 1)];
  const recorded = recordFacts(before, after);

  test('a table changed during the backup window is marked unstable', () => {
    expect(recorded.map((r) => [r.table, r.stable])).toEqual([
      ['a.x', true],
      ['a.y', false],
      ['a.z', true],
    ]);
  });

  test('equal data passes; unstable tables are reported, not compared', () => {
    const cmp = compareFacts(recorded, [t('a.x', 10), t('a.y', 99), t('a.z', 1)]);
    expect(cmp.map((c) => c.outcome)).toEqual(['equal', 'unstable', 'equal']);
    expect(comparisonPassed(cmp)).toBe(true);
  });

  test('a different checksum with the same count fails', () => {
    const cmp = compareFacts(recorded, [t('a.x', 10, 'other'), t('a.y', 5), t('a.z', 1)]);
    expect(cmp[0]!.outcome).toBe('different');
    expect(comparisonPassed(cmp)).toBe(false);
  });

  test('a missing table fails', () => {
    const cmp = compareFacts(recorded, [t('a.x', 10), t('a.y', 5)]);
    expect(cmp[2]!.outcome).toBe('missing');
    expect(comparisonPassed(cmp)).toBe(false);
  });

  test('nothing compared is not a proof', () => {
    expect(comparisonPassed([])).toBe(false);
    expect(comparisonPassed(compareFacts(recordFacts([t('a.x', 1)], [t('a.x', 2)]), [t('a.x', 2)]))).toBe(false);
  });
});
