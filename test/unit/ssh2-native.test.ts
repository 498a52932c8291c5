// ssh2 falls back to slow JavaScript crypto when its native binding did not build at install
// (npm's install-script approval, missing headers); with it, 666 MB/s was measured here.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

test("ssh2's native crypto binding is built and loads", () => {
  const root = dirname(require.resolve('ssh2/package.json'));
  const binding = join(root, 'lib/protocol/crypto/build/Release/sshcrypto.node');
  expect(existsSync(binding)).toBe(true);
  const native = require(binding) as Record<string, unknown>;
  // the AES-GCM cipher class is what osbackup negotiates first
  expect(typeof native.AESGCMCipher).toBe('function');
  expect(typeof native.AESGCMDecipher).toBe('function');
});
