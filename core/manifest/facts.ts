// Comparing database facts: what a backup recorded versus what a restore produced.
import type { ListedTable, RecordedTableFact, TableComparison, TableFact } from './manifest.js';

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

/**
 * The first verified restore of a backup whose facts come from the backup: every table the live
 * server listed must be there and readable to the last page (CHECKSUM TABLE reads them all); what
 * it reads becomes the reference every later restore is compared with.
 */
export function firstReading(listed: ListedTable[], restored: TableFact[]): TableComparison[] {
  const restoredBy = new Map(restored.map((t) => [t.table, t]));
  return listed.map((l) => {
    const got = restoredBy.get(l.table);
    const row = {
      table: l.table,
      expectedRows: null,
      expectedChecksum: null,
      actualRows: got?.rows ?? null,
      actualChecksum: got?.checksum ?? null,
    };
    if (!got) return { ...row, outcome: 'missing' as const };
    return { ...row, outcome: got.checksum === null ? ('unreadable' as const) : ('recorded' as const) };
  });
}

const PROVEN = new Set<TableComparison['outcome']>(['equal', 'recorded']);

/** A restore is proven only when every stable table is equal (or read as the reference) and none is missing. */
export function comparisonPassed(rows: TableComparison[]): boolean {
  return (
    rows.length > 0 &&
    rows.every((r) => PROVEN.has(r.outcome) || r.outcome === 'unstable') &&
    rows.some((r) => PROVEN.has(r.outcome))
  );
}
