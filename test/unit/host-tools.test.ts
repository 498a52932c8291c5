// The worker's start check of the programs it spawns, on a PATH made for the test.
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execaSync } from 'execa';
import { checkHostTools } from '../../worker/host-tools.js';

/** A folder holding links to the named programs only. */
function pathWith(...bins: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'osb-path-'));
  for (const b of bins) symlinkSync(execaSync('bash', ['-c', `command -v ${b}`]).stdout.trim(), join(dir, b));
  return dir;
}

test('every tool present: nothing missing, no warning', async () => {
  expect(await checkHostTools(pathWith('gpg', 'gpgconf', 'zstd', 'gzip', 'openssl'))).toEqual({
    missing: [],
    warnings: [],
  });
});

test('zstd missing: the worker must not start, and the message names the package', async () => {
  const r = await checkHostTools(pathWith('gpg', 'gpgconf', 'gzip', 'openssl'));
  expect(r.missing).toEqual(['zstd is not on PATH: every backup and restore needs it. Fix: install the zstd package']);
  expect(r.warnings).toEqual([]);
});

test('only the import tools missing: warnings, the worker starts', async () => {
  const r = await checkHostTools(pathWith('gpg', 'gpgconf', 'zstd'));
  expect(r.missing).toEqual([]);
  expect(r.warnings.map((w) => w.split(' ')[0])).toEqual(['gzip', 'openssl']);
  expect(r.warnings[0]).toMatch(/needed only for importing .* Fix: install the gzip package/);
});
