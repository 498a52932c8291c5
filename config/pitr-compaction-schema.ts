// Binlog segment compaction (pitrCompactionWorkflow, started by pitrArchiveWorkflow): fields
// of clouds.<c>.database.binlog, spread into binlogArchiveSchema.
//
//   database:
//     binlog:
//       compactAfterMinutes: 60   # segments archived longer ago than this are merged (0: never)
//       compactMaxMiB: 64         # binlog bytes per merged segment at most
//       compactMaxPieces: 2000    # segments merged into one at most (bounds one merge's time)
import { z } from 'zod';

/** A restore to a binlog byte position reads the segment holding it into memory (MAX_PLAIN_BYTES in activities/control-plane/sealed.ts): a merged one must fit. */
export const MAX_COMPACT_MIB = 256;

export const binlogCompactionFields = {
  /**
   * Segments archived at least this long ago are merged, per binlog file, into larger ones; the
   * live tail keeps its small segments. A pass runs at most this often. 0: no compaction.
   * Fractions are allowed (tests use seconds).
   */
  compactAfterMinutes: z
    .number()
    .min(0)
    .max(7 * 24 * 60)
    .default(60),
  /** Upper bound of a merged segment's binlog bytes (streamed everywhere, except a restore to a byte position reads its segment whole). */
  compactMaxMiB: z.number().int().min(1).max(MAX_COMPACT_MIB).default(64),
  /** At most this many segments go into one merged segment: one merge decrypts each of them, ~0.2 s apiece (gpg's passphrase KDF), so 2000 ≈ 6 min. */
  compactMaxPieces: z.number().int().min(2).max(20_000).default(2000),
};
