// Synthetic binary-log bytes for unit tests: v4 events with the header fields the scanner checks.
import { BINLOG_MAGIC } from '../../activities/pitr/events.js';

/** One v4 event: 19-byte header (log_pos = its end in the file), body, 4-byte checksum. */
export function event(ts: number, type: number, serverId: number, body: Buffer, at: number): Buffer {
  const size = 19 + body.length + 4;
  const h = Buffer.alloc(19);
  h.writeUInt32LE(ts, 0);
  h.writeUInt8(type, 4);
  h.writeUInt32LE(serverId, 5);
  h.writeUInt32LE(size, 9);
  h.writeUInt32LE(at + size, 13);
  return Buffer.concat([h, body, Buffer.alloc(4)]);
}

export function gtidBody(domain: number, seq: number): Buffer {
  const b = Buffer.alloc(13);
  b.writeBigUInt64LE(BigInt(seq), 0);
  b.writeUInt32LE(domain, 8);
  return b;
}

/** A file: magic, a format description, then (GTID, query) pairs at the given times. */
export function binlogFile(times: number[]): Buffer {
  const parts: Buffer[] = [BINLOG_MAGIC];
  let pos = 4;
  const push = (e: Buffer) => {
    parts.push(e);
    pos += e.length;
  };
  push(event(1000, 15, 1, Buffer.alloc(80), pos));
  times.forEach((t, i) => {
    push(event(t, 162, 1, gtidBody(0, i + 1), pos));
    push(event(t, 2, 1, Buffer.from(`INSERT ${i}`.padEnd(40)), pos));
  });
  return Buffer.concat(parts);
}
