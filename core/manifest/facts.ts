// Comparing database facts: what a backup recorded versus what a restore produced.
import type { RecordedTableFact, TableComparison, TableFact } from './manifest.js';

/** Merge the facts read before and after the backup window into the recorded set. */
export function recordFacts(before: TableFact[], after: TableFact[]): RecordedTableFact[] {
  const afterBy = new Map(after.map((t) => [t.table, t]));
  return before.map((b) => {
    const a = afterBy.get(b.table);
    const stable = a !== undefined && a.rows === b.rows && a.checksum === b.checksum;
    return { ...b, stable };
  });
}

export function compareFacts(recorded: RecordedTableFact[], restored: TableFact[]): TableComparison[] {
  const restoredBy = new Map(restored.map((t) => [t.table, t]));
  return recorded.map((r) => {
    const got = restoredBy.get(r.table);
    const base = {
      table: r.table,
      expectedRows: r.rows,
      expectedChecksum: r.checksum,
      actualRows: got?.rows ?? null,
      actualChecksum: got?.checksum ?? null,
    };
    if (!got) return { ...base, outcome: 'missing' as const };
    if (!r.stable) return { ...base, outcome: 'unstable' as const };
    return {
      ...base,
      outcome: got.rows === r.rows && got.checksum === r.checksum ? ('equal' as const) : ('different' as const),
    };
  });
}

/** A restore is proven only when every stable table is equal and none is missing. */
export function comparisonPassed(rows: TableComparison[]): boolean {
  return (
    rows.length > 0 &&
    rows.every((r) => r.outcome === 'equal' || r.outcome === 'unstable') &&
    rows.some((r) => r.outcome === 'equal')
  );
}
