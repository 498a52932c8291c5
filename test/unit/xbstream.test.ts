// The xbstream reader against streams made by the real `mbstream -c` (MariaDB's own writer):
// metadata files picked out byte-equal, every cut and flipped byte refused.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';
import {
  ArchiveError,
  tarToXbstream,
  XbstreamError,
  XbstreamReader,
  xbstreamTap,
} from '../../activities/mariadb/xbstream.js';

const T = mkdtempSync(join(tmpdir(), 'osb-xbstream-'));
const checkpoints = 'backup_type = full-backuped\nfrom_lsn = 0\nto_lsn = 8641339\nlast_lsn = 8641355\n';
const big = randomBytes(3 << 20); // more than one mbstream chunk
let stream: Buffer;

beforeAll(async () => {
  mkdirSync(join(T, 'src/keystone'), { recursive: true });
  writeFileSync(join(T, 'src/xtrabackup_checkpoints'), checkpoints);
  writeFileSync(join(T, 'src/xtrabackup_info'), 'tool_version = 10.11.18-MariaDB\n');
  writeFileSync(join(T, 'src/keystone/project.ibd'), big);
  writeFileSync(join(T, 'src/empty'), '');
  const r = await execa(
    'mbstream',
    ['-c', 'keystone/project.ibd', 'xtrabackup_checkpoints', 'empty', 'xtrabackup_info'],
    { cwd: join(T, 'src'), encoding: 'buffer' },
  );
  stream = Buffer.from(r.stdout);
});
afterAll(() => rmSync(T, { recursive: true, force: true }));

function read(buf: Buffer, pieces = 7) {
  const r = new XbstreamReader(new Set(['xtrabackup_checkpoints', 'xtrabackup_info']));
  const step = Math.max(1, Math.ceil(buf.length / pieces));
  for (let i = 0; i < buf.length; i += step) r.write(buf.subarray(i, i + step));
  return r.end();
}

test('picks out the metadata files, whatever the buffer boundaries', () => {
  for (const pieces of [1, 3, 1000, 50_000]) {
    const s = read(stream, pieces);
    expect(s.files.get('xtrabackup_checkpoints')?.toString()).toBe(checkpoints);
    expect(s.files.get('xtrabackup_info')?.toString()).toBe('tool_version = 10.11.18-MariaDB\n');
    expect(s.bytes).toBe(stream.length);
    expect(s.files.has('keystone/project.ibd')).toBe(false); // not wanted: never held in memory
  }
});

test('as a pass-through stage it changes no byte', async () => {
  const { tap, summary } = xbstreamTap(new Set(['xtrabackup_checkpoints']));
  const out: Buffer[] = [];
  await pipeline(
    Readable.from([stream.subarray(0, 1000), stream.subarray(1000)]),
    tap,
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  expect(Buffer.concat(out).equals(stream)).toBe(true);
  expect(summary().files.get('xtrabackup_checkpoints')?.toString()).toBe(checkpoints);
});

test('a stream cut anywhere is refused as truncated', () => {
  for (const cut of [1, 13, 14, 30, 1 << 20, stream.length - 100, stream.length - 1]) {
    expect(() => read(stream.subarray(0, cut))).toThrow(XbstreamError);
  }
  expect(() => read(stream.subarray(0, stream.length - 1))).toThrow(/truncated/);
});

test('a flipped byte in a payload fails its CRC-32; garbage is not an xbstream', () => {
  const bad = Buffer.from(stream);
  bad[200_000] = bad[200_000]! ^ 0x01;
  expect(() => read(bad)).toThrow(/CRC-32 mismatch in a chunk of keystone\/project.ibd/);
  expect(() => read(randomBytes(4096))).toThrow(/wrong magic/);
  expect(() => new XbstreamReader(new Set()).end()).toThrow(/empty/);
});

async function convert(tar: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from([tar.subarray(0, 700), tar.subarray(700)]),
    tarToXbstream(),
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

test('a tar of a mariabackup folder becomes an xbstream that the real mbstream -x unpacks to the same folder', async () => {
  const tar = Buffer.from((await execa('tar', ['-C', join(T, 'src'), '-cf', '-', '.'], { encoding: 'buffer' })).stdout);
  const xb = await convert(tar);
  expect(read(xb).files.get('xtrabackup_checkpoints')?.toString()).toBe(checkpoints);
  mkdirSync(join(T, 'out'));
  await execa('mbstream', ['-x', '-C', join(T, 'out')], { input: xb });
  const diff = await execa('diff', ['-r', join(T, 'src'), join(T, 'out')], { reject: false });
  expect(diff.stdout + diff.stderr).toBe('');
  expect(diff.exitCode).toBe(0);
});

test('a cut tar or one holding a symlink is refused', async () => {
  const tar = Buffer.from((await execa('tar', ['-C', join(T, 'src'), '-cf', '-', '.'], { encoding: 'buffer' })).stdout);
  await expect(convert(tar.subarray(0, 5000))).rejects.toThrow(ArchiveError);
  await expect(convert(randomBytes(2048))).rejects.toThrow(/not a whole tar archive/);
  mkdirSync(join(T, 'link'));
  writeFileSync(join(T, 'link/a'), 'x');
  await execa('ln', ['-s', 'a', join(T, 'link/b')]);
  const withLink = Buffer.from(
    (await execa('tar', ['-C', join(T, 'link'), '-cf', '-', '.'], { encoding: 'buffer' })).stdout,
  );
  await expect(convert(withLink)).rejects.toThrow(/b is a symlink/);
});
