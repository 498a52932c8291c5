import { compareFacts, comparisonPassed, firstReading, recordFacts } from '../../core/manifest/facts.js';
import { parseTableList } from '../../activities/mariadb/commands.js';
import { rereadAfterWrite } from '../../config/schema.js';

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

  describe('facts from the backup', () => {
    const listed = ['a.x', 'a.y'].map((table) => ({ table, engine: 'InnoDB', estimatedRows: 3 }));

    test('the first restore records every listed table it can read, and passes', () => {
      const rows = firstReading(listed, [t('a.x', 10), t('a.y', 0)]);
      expect(rows.map((r) => [r.table, r.outcome, r.expectedRows, r.actualRows])).toEqual([
        ['a.x', 'recorded', null, 10],
        ['a.y', 'recorded', null, 0],
      ]);
      expect(comparisonPassed(rows)).toBe(true);
    });

    test('a listed table that is missing or unreadable after the restore fails it', () => {
      expect(comparisonPassed(firstReading(listed, [t('a.x', 10)]))).toBe(false);
      const unreadable = firstReading(listed, [t('a.x', 10), t('a.y', 4, null)]);
      expect(unreadable[1]!.outcome).toBe('unreadable');
      expect(comparisonPassed(unreadable)).toBe(false);
    });

    test('the catalog listing is parsed without reading a row', () => {
      const out = 'version\t10.11.19-MariaDB\ntable\tnova.instances\tInnoDB\t1100000\ntable\tkeystone.v\t\t0\n';
      expect(parseTableList(out)).toEqual({
        serverVersion: '10.11.19-MariaDB',
        tables: [
          { table: 'nova.instances', engine: 'InnoDB', estimatedRows: 1100000 },
          { table: 'keystone.v', engine: null, estimatedRows: 0 },
        ],
      });
    });
  });
});

describe('verify after write', () => {
  test('is on for a network share, off on a local disk, and as configured when set', () => {
    expect(rereadAfterWrite({})).toBe(false);
    expect(rereadAfterWrite({ mountPoint: '/mnt/backup' })).toBe(true);
    expect(rereadAfterWrite({ verifyAfterWrite: true })).toBe(true);
    expect(rereadAfterWrite({ verifyAfterWrite: false, mountPoint: '/mnt/backup' })).toBe(false);
  });
});
