// Measures the two OpenPGP encryption routes osbackup could take,
// on the same input, in the same run: openpgp.js streaming vs the stock gpg binary.
// Usage: node bench/encryption-choice.mjs [MiB=512]
import { createReadStream, createWriteStream, writeFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import * as openpgp from 'openpgp';

const mib = Number(process.argv[2] ?? 512);
const dir = mkdtempSync(join(tmpdir(), 'osb-enc-'));
const input = join(dir, 'in.bin');
const pass = 'bench-passphrase-not-secret';
{
  const ws = createWriteStream(input);
  for (let i = 0; i < mib; i++) ws.write(randomBytes(1 << 20));
  await new Promise((r) => ws.end(r));
}
async function timeIt(name, fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`${name}: ${((mib * 1.048576) / s).toFixed(0)} MB/s (${s.toFixed(2)} s)`);
}
await timeIt('openpgp.js 6 (SEIPD v1, no compression)', async () => {
  const message = await openpgp.createMessage({ binary: Readable.toWeb(createReadStream(input)) });
  const enc = await openpgp.encrypt({
    message,
    passwords: [pass],
    format: 'binary',
    config: { preferredCompressionAlgorithm: openpgp.enums.compression.uncompressed, aeadProtect: false },
  });
  await pipeline(Readable.fromWeb(enc), createWriteStream(join(dir, 'a.gpg')));
});
const home = mkdtempSync(join(dir, 'gnupg-'));
await timeIt('gpg binary (AES256, --compress-algo none)', async () => {
  const p = execa(
    'gpg',
    [
      '--homedir',
      home,
      '--batch',
      '--quiet',
      '--no-symkey-cache',
      '--pinentry-mode',
      'loopback',
      '--passphrase-fd',
      '3',
      '--symmetric',
      '--cipher-algo',
      'AES256',
      '--compress-algo',
      'none',
      '-o',
      join(dir, 'b.gpg'),
      input,
    ],
    { stdio: ['ignore', 'inherit', 'inherit', 'pipe'] },
  );
  p.stdio[3].end(pass + '\n');
  await p;
});
for (const f of ['a.gpg', 'b.gpg']) {
  const out = join(dir, f + '.out');
  const p = execa(
    'gpg',
    [
      '--homedir',
      home,
      '--batch',
      '--quiet',
      '--no-symkey-cache',
      '--pinentry-mode',
      'loopback',
      '--passphrase-fd',
      '3',
      '--decrypt',
      '-o',
      out,
      join(dir, f),
    ],
    { stdio: ['ignore', 'inherit', 'inherit', 'pipe'] },
  );
  p.stdio[3].end(pass + '\n');
  await p;
  console.log(
    `stock gpg decrypts ${f}: ${statSync(out).size === statSync(input).size ? 'byte count equal' : 'SIZE DIFFERS'}`,
  );
}
rmSync(dir, { recursive: true, force: true });
