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
 * Walks binlog events as their bytes arrive (the file's bytes from `startPosition`, in any
 * chunks): `push` returns the bytes that complete whole events, in order, and keeps back the
 * start of an event still arriving, so a reader streams a segment holding at most one event in
 * memory. `summary()` is what the whole events so far hold. Throws when the bytes are not events
 * where a header must be: a segment is never cut blind.
 */
export class EventScanner {
  private readonly held: Buffer[] = [];
  private heldBytes = 0;
  private whole = 0;
  private magicDone: boolean;
  private events = 0;
  private first: number | null = null;
  private last: number | null = null;
  private firstGtid: string | null = null;
  private lastGtid: string | null = null;
  private readonly servers = new Set<number>();

  constructor(private readonly startPosition: number) {
    this.magicDone = startPosition !== 0;
  }

  push(buf: Buffer): Buffer[] {
    if (buf.length) {
      this.held.push(buf);
      this.heldBytes += buf.length;
    }
    const out: Buffer[] = [];
    for (;;) {
      if (!this.magicDone) {
        if (this.heldBytes < 4) break;
        const magic = this.take(4);
        if (!Buffer.concat(magic).equals(BINLOG_MAGIC))
          throw new Error('the file does not start with the binlog magic bytes');
        this.magicDone = true;
        this.whole = 4;
        out.push(...magic);
        continue;
      }
      if (this.heldBytes < HEADER) break;
      const h = this.peek(HEADER);
      const at = this.startPosition + this.whole;
      const ts = h.readUInt32LE(0);
      const type = h.readUInt8(4);
      const serverId = h.readUInt32LE(5);
      const size = h.readUInt32LE(9);
      const logPos = h.readUInt32LE(13);
      if (size < HEADER || size > MAX_EVENT || type > MAX_TYPE)
        throw new Error(`event at position ${at} has type ${type} and size ${size}: not an event boundary`);
      // log_pos is the event's end in the file; a mismatch means we are not on a boundary (0: artificial events)
      if (logPos !== 0 && logPos !== at + size)
        throw new Error(`event at position ${at} says it ends at ${logPos}, not ${at + size}`);
      if (this.heldBytes < size) break; // the rest arrives with the next read
      const event = this.take(size);
      if (type === GTID_EVENT && size >= HEADER + 12) {
        const body = this.slice(event, HEADER, HEADER + 12);
        const gtid = `${body.readUInt32LE(8)}-${serverId}-${body.readBigUInt64LE(0)}`;
        this.firstGtid ??= gtid;
        this.lastGtid = gtid;
      }
      // timestamps are statement start times, not strictly increasing: keep the extremes
      if (ts > 0) {
        this.first = this.first === null ? ts : Math.min(this.first, ts);
        this.last = this.last === null ? ts : Math.max(this.last, ts);
      }
      this.servers.add(serverId);
      this.events++;
      this.whole += size;
      out.push(...event);
    }
    return out;
  }

  /** Bytes received that do not (yet) make a whole event. */
  get pendingBytes(): number {
    return this.heldBytes;
  }

  summary(): BinlogSegmentEvents & { wholeBytes: number } {
    const iso = (s: number | null) => (s === null ? null : new Date(s * 1000).toISOString());
    return {
      wholeBytes: this.whole,
      events: this.events,
      firstEventAt: iso(this.first),
      lastEventAt: iso(this.last),
      firstGtid: this.firstGtid,
      lastGtid: this.lastGtid,
      serverIds: [...this.servers].sort((a, b) => a - b),
    };
  }

  /** The first `n` held bytes, copied only when they span chunks. */
  private peek(n: number): Buffer {
    const b0 = this.held[0]!;
    return b0.length >= n ? b0.subarray(0, n) : Buffer.concat(this.held, n);
  }

  /** Removes the first `n` held bytes and returns them as the chunks they came in (no copy). */
  private take(n: number): Buffer[] {
    const out: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const b = this.held[0]!;
      if (b.length <= left) {
        out.push(b);
        this.held.shift();
        left -= b.length;
      } else {
        out.push(b.subarray(0, left));
        this.held[0] = b.subarray(left);
        left = 0;
      }
    }
    this.heldBytes -= n;
    return out;
  }

  private slice(parts: Buffer[], from: number, to: number): Buffer {
    const p0 = parts[0]!;
    return p0.length >= to ? p0.subarray(from, to) : Buffer.concat(parts).subarray(from, to);
  }
}

/**
 * The events of `buf`, which holds the file's bytes from `startPosition`: the length of the
 * prefix made of whole events (a read may end inside one) and what they hold.
 */
export function scanEvents(buf: Buffer, startPosition: number): BinlogSegmentEvents & { wholeBytes: number } {
  const s = new EventScanner(startPosition);
  s.push(buf);
  return s.summary();
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
