// Reading MariaDB binary-log event headers (format v4): enough to cut a log into segments at
// event boundaries and to record each segment's time and GTID range. The bytes themselves are
// archived untouched, so `mariadb-binlog` reads the reassembled file as the server wrote it.
import type { BinlogSegmentEvents } from '../../core/pitr/segments.js';

/** Every binlog file starts with these 4 bytes: 0xfe 'b' 'i' 'n'. */
export const BINLOG_MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);
const HEADER = 19;
const GTID_EVENT = 162;
// MariaDB's event types end below 200; an event is at most max_allowed_packet (1 GiB) plus headers
const MAX_TYPE = 200;
const MAX_EVENT = (1 << 30) + 4096;

/**
 * Walks the events of `buf`, which holds the file's bytes from `startPosition`. Returns the
 * length of the prefix made of whole events (a read may end inside one) and what they hold.
 * Throws when the bytes are not events where a header must be: a segment is never cut blind.
 */
export function scanEvents(buf: Buffer, startPosition: number): BinlogSegmentEvents & { wholeBytes: number } {
  let off = 0;
  if (startPosition === 0) {
    if (buf.length < 4)
      return {
        wholeBytes: 0,
        events: 0,
        firstEventAt: null,
        lastEventAt: null,
        firstGtid: null,
        lastGtid: null,
        serverIds: [],
      };
    if (!buf.subarray(0, 4).equals(BINLOG_MAGIC))
      throw new Error('the file does not start with the binlog magic bytes');
    off = 4;
  }
  let events = 0;
  let first: number | null = null;
  let last: number | null = null;
  let firstGtid: string | null = null;
  let lastGtid: string | null = null;
  const servers = new Set<number>();
  while (off + HEADER <= buf.length) {
    const ts = buf.readUInt32LE(off);
    const type = buf.readUInt8(off + 4);
    const serverId = buf.readUInt32LE(off + 5);
    const size = buf.readUInt32LE(off + 9);
    const logPos = buf.readUInt32LE(off + 13);
    if (size < HEADER || size > MAX_EVENT || type > MAX_TYPE)
      throw new Error(
        `event at position ${startPosition + off} has type ${type} and size ${size}: not an event boundary`,
      );
    if (off + size > buf.length) break; // the rest arrives with the next read
    // log_pos is the event's end in the file; a mismatch means we are not on a boundary (0: artificial events)
    if (logPos !== 0 && logPos !== startPosition + off + size)
      throw new Error(
        `event at position ${startPosition + off} says it ends at ${logPos}, not ${startPosition + off + size}`,
      );
    if (type === GTID_EVENT && size >= HEADER + 12) {
      const seq = buf.readBigUInt64LE(off + HEADER);
      const domain = buf.readUInt32LE(off + HEADER + 8);
      const gtid = `${domain}-${serverId}-${seq}`;
      firstGtid ??= gtid;
      lastGtid = gtid;
    }
    // timestamps are statement start times, not strictly increasing: keep the extremes
    if (ts > 0) {
      first = first === null ? ts : Math.min(first, ts);
      last = last === null ? ts : Math.max(last, ts);
    }
    servers.add(serverId);
    events++;
    off += size;
  }
  const iso = (s: number | null) => (s === null ? null : new Date(s * 1000).toISOString());
  return {
    wholeBytes: off,
    events,
    firstEventAt: iso(first),
    lastEventAt: iso(last),
    firstGtid,
    lastGtid,
    serverIds: [...servers].sort((a, b) => a - b),
  };
}

// Events that never sit inside a transaction: a GTID event opens one (MariaDB ≥ 10.0 starts
// every transaction and DDL with it); the rest are file bookkeeping.
const BETWEEN_TRANSACTIONS = new Set([
  GTID_EVENT,
  161 /* binlog checkpoint */,
  163 /* GTID list */,
  15 /* format description */,
  4 /* rotate */,
  3 /* stop */,
]);

/**
 * Is byte `position` of the file a transaction boundary, judged from `buf` (the file's bytes
 * from `startPosition`, whole events)? A boundary is where an event that opens no transaction
 * body starts, or the end of `buf` when `endIsBoundary`. Otherwise the nearest boundaries
 * before and after it (null: not within `buf`).
 */
export function transactionBoundary(
  buf: Buffer,
  startPosition: number,
  position: number,
  endIsBoundary: boolean,
): { ok: true } | { ok: false; before: number | null; after: number | null } {
  let off = startPosition === 0 ? 4 : 0;
  let before: number | null = null;
  while (off + HEADER <= buf.length) {
    const at = startPosition + off;
    const type = buf.readUInt8(off + 4);
    const size = buf.readUInt32LE(off + 9);
    if (size < HEADER) break;
    const boundary = BETWEEN_TRANSACTIONS.has(type);
    if (at === position && boundary) return { ok: true };
    if (at > position) {
      if (boundary) return { ok: false, before, after: at };
    } else if (boundary) before = at;
    off += size;
  }
  if (startPosition + off === position && endIsBoundary) return { ok: true };
  return { ok: false, before, after: endIsBoundary ? startPosition + off : null };
}
