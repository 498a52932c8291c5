// Reads an xbstream as it flows past (mariabackup's archive format, see MariaDB's
// extra/mariabackup/xbstream.h): picks out the small metadata files an import needs
// (xtrabackup_checkpoints, xtrabackup_info) and checks the whole stream's structure and every
// chunk's CRC-32 on the way — without writing a byte of it anywhere.
//
// A chunk: "XBSTCK01", flags (1), type (1: 'P' payload, 'E' end of file), path length (u32 LE),
// path; for payload chunks then length (u64 LE), offset (u64 LE), CRC-32 of the payload (u32 LE),
// payload. A stream cut anywhere but between chunks, or a file without its 'E' chunk, is a
// truncated backup.
import { Duplex, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import { extract } from 'tar-stream';

const MAGIC = Buffer.from('XBSTCK01');
const FLAG_IGNORABLE = 0x01;
const FN_REFLEN = 512;

export class XbstreamError extends Error {
  override name = 'XbstreamError';
}

export interface XbstreamSummary {
  /** The wanted files found, complete, by path. */
  files: Map<string, Buffer>;
  /** Every path the stream holds. */
  paths: number;
  chunks: number;
  bytes: number;
}

type State = 'header' | 'path' | 'payloadHeader' | 'payload';

export class XbstreamReader {
  private state: State = 'header';
  private need = 14;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flags = 0;
  private type = 0;
  private path = '';
  private remaining = 0;
  private expectCrc = 0;
  private crc = 0;
  private capture: Buffer[] | undefined;
  private offset = 0;
  private readonly open = new Set<string>();
  private readonly seen = new Set<string>();
  private readonly found = new Map<string, Buffer[]>();
  private chunks = 0;

  /** `wanted`: paths (as in the stream, e.g. "xtrabackup_checkpoints") to keep, each at most `maxBytes`. */
  constructor(
    private readonly wanted: ReadonlySet<string>,
    private readonly maxBytes = 1 << 20,
  ) {}

  write(buf: Buffer): void {
    let i = 0;
    while (i < buf.length) {
      if (this.state === 'payload') {
        const n = Math.min(this.remaining, buf.length - i);
        const part = buf.subarray(i, i + n);
        this.crc = crc32(part, this.crc);
        if (this.capture) this.capture.push(Buffer.from(part));
        this.remaining -= n;
        i += n;
        this.offset += n;
        if (this.remaining === 0) this.endPayload();
        continue;
      }
      const n = Math.min(this.need - this.pendingBytes, buf.length - i);
      this.pending.push(buf.subarray(i, i + n));
      this.pendingBytes += n;
      i += n;
      this.offset += n;
      if (this.pendingBytes === this.need) {
        const b = Buffer.concat(this.pending, this.need);
        this.pending = [];
        this.pendingBytes = 0;
        this.step(b);
      }
    }
  }

  private fail(what: string): never {
    throw new XbstreamError(`${what} at byte ${this.offset} of the xbstream`);
  }

  private step(b: Buffer): void {
    switch (this.state) {
      case 'header': {
        if (!b.subarray(0, 8).equals(MAGIC)) this.fail('not an xbstream chunk (wrong magic)');
        this.flags = b[8]!;
        this.type = b[9]!;
        const len = b.readUInt32LE(10);
        if (len >= FN_REFLEN) this.fail(`a path of ${len} bytes`);
        const known = this.type === 0x50 /* P */ || this.type === 0x45; /* E */
        if (!known && !(this.flags & FLAG_IGNORABLE)) this.fail(`unknown chunk type 0x${this.type.toString(16)}`);
        this.chunks++;
        if (len === 0) this.afterPath('');
        else {
          this.state = 'path';
          this.need = len;
        }
        return;
      }
      case 'path':
        this.afterPath(b.toString('utf8'));
        return;
      case 'payloadHeader': {
        const length = b.readBigUInt64LE(0);
        if (length > BigInt(Number.MAX_SAFE_INTEGER)) this.fail('a chunk length beyond reason');
        this.remaining = Number(length);
        this.expectCrc = b.readUInt32LE(16);
        this.crc = 0;
        const want = this.type === 0x50 && this.wanted.has(this.path);
        const sofar = this.found.get(this.path)?.reduce((n, x) => n + x.length, 0) ?? 0;
        if (want && sofar + this.remaining > this.maxBytes)
          this.fail(`${this.path} larger than ${this.maxBytes} bytes`);
        this.capture = want ? [] : undefined;
        if (this.remaining === 0) this.endPayload();
        else {
          this.state = 'payload';
          this.need = 0;
        }
        return;
      }
      default:
        this.fail('reader in an impossible state');
    }
  }

  private afterPath(path: string): void {
    this.path = path;
    if (this.type === 0x45) {
      this.open.delete(path);
      this.toHeader();
      return;
    }
    this.state = 'payloadHeader';
    this.need = 20;
  }

  private endPayload(): void {
    if (this.crc >>> 0 !== this.expectCrc) this.fail(`CRC-32 mismatch in a chunk of ${this.path}`);
    if (this.type === 0x50) {
      this.open.add(this.path);
      this.seen.add(this.path);
      if (this.capture) {
        const list = this.found.get(this.path) ?? [];
        list.push(...this.capture);
        this.found.set(this.path, list);
      }
    }
    this.capture = undefined;
    this.toHeader();
  }

  private toHeader(): void {
    this.state = 'header';
    this.need = 14;
  }

  /** The stream ended: it must end between chunks, with every file closed. */
  end(): XbstreamSummary {
    if (this.offset === 0) throw new XbstreamError('the xbstream is empty');
    if (this.state !== 'header' || this.pendingBytes !== 0)
      this.fail(`the stream ends inside a chunk${this.path ? ` of ${this.path}` : ''} (truncated)`);
    if (this.open.size > 0)
      this.fail(`the stream ends with ${this.open.size} file(s) unfinished, e.g. ${[...this.open][0]} (truncated)`);
    const files = new Map<string, Buffer>();
    for (const [p, list] of this.found) if (!this.open.has(p)) files.set(p, Buffer.concat(list));
    return { files, paths: this.seen.size, chunks: this.chunks, bytes: this.offset };
  }
}

/** A pass-through stage that reads the xbstream flowing through it; `summary()` after it ends. */
export function xbstreamTap(wanted: ReadonlySet<string>): { tap: Transform; summary: () => XbstreamSummary } {
  const reader = new XbstreamReader(wanted);
  let result: XbstreamSummary | undefined;
  const tap = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _e, cb) {
      try {
        reader.write(chunk);
        cb(null, chunk);
      } catch (e) {
        cb(e as Error);
      }
    },
    flush(cb) {
      try {
        result = reader.end();
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
  });
  return {
    tap,
    summary: () => {
      if (!result) throw new XbstreamError('the xbstream was not read to its end');
      return result;
    },
  };
}

// ---- writing ----------------------------------------------------------------------------

/** One payload chunk of `path`: `data` at byte `offset` of the file. */
export function xbstreamPayload(path: string, data: Buffer, offset: number): Buffer {
  const p = Buffer.from(path, 'utf8');
  const head = Buffer.alloc(14 + p.length + 20);
  MAGIC.copy(head, 0);
  head[8] = 0;
  head[9] = 0x50; // P
  head.writeUInt32LE(p.length, 10);
  p.copy(head, 14);
  head.writeBigUInt64LE(BigInt(data.length), 14 + p.length);
  head.writeBigUInt64LE(BigInt(offset), 22 + p.length);
  head.writeUInt32LE(crc32(data) >>> 0, 30 + p.length);
  return Buffer.concat([head, data]);
}

/** The chunk that closes `path`. */
export function xbstreamEof(path: string): Buffer {
  const p = Buffer.from(path, 'utf8');
  const head = Buffer.alloc(14 + p.length);
  MAGIC.copy(head, 0);
  head[9] = 0x45; // E
  head.writeUInt32LE(p.length, 10);
  p.copy(head, 14);
  return head;
}

export class ArchiveError extends Error {
  override name = 'ArchiveError';
}

/**
 * A tar archive of a mariabackup --target-dir folder (the seed's folders, read with `tar -c`
 * on the host, or its .tar.gz files) turned into the xbstream `mbstream -c` would have made of
 * the same folder, as it streams: every regular file in order, its bytes in payload chunks,
 * then its end chunk. Directories are implied by the paths; anything else in the archive
 * (symlinks, devices) has no place in a mariabackup folder and is refused.
 */
export function tarToXbstream(): Duplex {
  return Duplex.from(async function* (source: AsyncIterable<Buffer>) {
    const ex = extract();
    const feeding = pipeline(Readable.from(source), ex).catch((e: unknown) => {
      throw new ArchiveError(`not a whole tar archive (${(e as Error).message})`);
    });
    feeding.catch(() => undefined); // awaited below; the entry loop may fail first
    try {
      for await (const entry of ex) {
        const h = entry.header;
        const path = h.name.replace(/^(\.\/)+/, '').replace(/\/$/, '');
        if (h.type === 'directory' || path === '' || path === '.') {
          entry.resume();
          continue;
        }
        if (h.type !== 'file' && h.type !== 'contiguous-file')
          throw new ArchiveError(`${path} is a ${h.type}, not a regular file: not a mariabackup folder`);
        if (Buffer.byteLength(path) >= FN_REFLEN) throw new ArchiveError(`${path} is too long a path for xbstream`);
        let offset = 0;
        for await (const data of entry as AsyncIterable<Buffer>) {
          yield xbstreamPayload(path, data, offset);
          offset += data.length;
        }
        if (offset === 0) yield xbstreamPayload(path, Buffer.alloc(0), 0); // an empty file still exists
        yield xbstreamEof(path);
      }
    } catch (e) {
      if (e instanceof ArchiveError) throw e;
      throw new ArchiveError(`not a whole tar archive (${(e as Error).message})`);
    }
    await feeding;
  });
}
