// The payload key ring: the first key encrypts, every key decrypts what it wrote, a single
// payloadKey is a ring of one that writes the id it always wrote (payloads in the recorded
// histories, written before rings existed, still decode), and every failure names key ids and
// the fix, never key material.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Payload } from '@temporalio/common';
import { parseConfig } from '../../config/load.js';
import { AesGcmPayloadCodec, KeyRing, KeyRingError, payloadKeyId } from '../../config/payload-codec.js';
import { payloadCodecs, payloadKeyRing, TemporalSetupError } from '../../config/temporal.js';
import { checkConfigResources } from '../../client/config-check.js';
import { PAYLOAD_KEY_FILE, readFixture, readFixtureIndex } from '../replay/fixtures.js';

const plain: Payload = {
  metadata: { encoding: Buffer.from('json/plain') },
  data: Buffer.from(JSON.stringify({ cloud: 'prod', tier: 'daily' })),
};
const text = (p: Payload) => Buffer.from(p.data!).toString();
/** The id as the codec wrote it before rings: the first 16 hex digits of the key's SHA-256. */
const legacyId = (key: Buffer) => createHash('sha256').update(key).digest('hex').slice(0, 16);
/** Every spelling of a key that could leak into a message. */
const spellings = (key: Buffer) => [key.toString('hex'), key.toString('base64'), key.toString('hex').slice(0, 24)];

const oldKey = randomBytes(32);
const newKey = randomBytes(32);

describe('a ring of one (temporal.payloadKey, or a key without id)', () => {
  test('writes the id the single-key codec always wrote: the key fingerprint', async () => {
    const [enc] = await new AesGcmPayloadCodec(oldKey).encode([plain]);
    expect(payloadKeyId(enc!)).toBe(legacyId(oldKey));
    expect(new KeyRing([{ key: oldKey }]).current.id).toBe(legacyId(oldKey));
  });

  test('payloads of the recorded histories (written before key rings) decode in a ring that names their key with an id of its own, after a new current key', async () => {
    const fixtureKey = Buffer.from(readFileSync(PAYLOAD_KEY_FILE, 'utf8').trim(), 'hex');
    const entry = readFixtureIndex().fixtures[0]!;
    const started = readFixture(entry).events![0]!.workflowExecutionStartedEventAttributes!;
    const stored = started.input!.payloads![0]! as Payload;
    expect(payloadKeyId(stored)).toBe(legacyId(fixtureKey));
    const ring = new AesGcmPayloadCodec(
      new KeyRing([
        { id: '2026-05', key: newKey },
        { id: 'first', key: fixtureKey },
      ]),
    );
    const [dec] = await ring.decode([stored]);
    expect(JSON.parse(text(dec!))).toMatchObject({ cloud: expect.any(String) });
  });
});

describe('a ring of several keys', () => {
  const ring = new KeyRing([
    { id: 'k2', key: newKey, source: 'temporal.payloadKeys.0' },
    { id: 'k1', key: oldKey, source: 'temporal.payloadKeys.1' },
  ]);
  const codec = new AesGcmPayloadCodec(ring);

  test('encrypts with the first key, under its id', async () => {
    const [enc] = await codec.encode([plain]);
    expect(payloadKeyId(enc!)).toBe('k2');
    expect(codec.keyId).toBe('k2');
    // only the first key opens it: it is not under the old one
    await expect(new AesGcmPayloadCodec(new KeyRing([{ id: 'k2', key: oldKey }])).decode([enc!])).rejects.toThrow(
      /does not authenticate under this process's key k2/,
    );
    expect(text((await codec.decode([enc!]))[0]!)).toBe(text(plain));
  });

  test('decodes what an older key wrote, under its id and under its fingerprint (from a single payloadKey)', async () => {
    const [underId] = await new AesGcmPayloadCodec(new KeyRing([{ id: 'k1', key: oldKey }])).encode([plain]);
    const [underFingerprint] = await new AesGcmPayloadCodec(oldKey).encode([plain]);
    expect(payloadKeyId(underFingerprint!)).toBe(legacyId(oldKey));
    const out = await codec.decode([underId!, underFingerprint!, plain]);
    expect(out.map(text)).toEqual([text(plain), text(plain), text(plain)]);
  });

  test('a payload under a key not in the ring: the error names its id, the ring and the fix, and no key', async () => {
    const gone = randomBytes(32);
    const [enc] = await new AesGcmPayloadCodec(new KeyRing([{ id: '2024-01', key: gone }])).encode([plain]);
    const err = await codec.decode([enc!]).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/encrypted with key 2024-01, which is not in this process's payload key ring/);
    expect(err?.message).toContain('(k2 (current), k1)');
    expect(err?.message).toMatch(/Fix: add that key to temporal\.payloadKeys/);
    for (const k of [gone, newKey, oldKey]) for (const s of spellings(k)) expect(err?.message).not.toContain(s);

    // a fingerprint id (from a single payloadKey) says how to find the key it names
    const [legacy] = await new AesGcmPayloadCodec(gone).encode([plain]);
    await expect(codec.decode([legacy!])).rejects.toThrow(
      new RegExp(`key ${legacyId(gone)}, which is not in .*16 hex digits is a key's fingerprint.*config check`),
    );
  });

  test('tampered data under a known key fails naming the key id, without key material', async () => {
    const [enc] = await codec.encode([plain]);
    const data = Buffer.from(enc!.data!);
    data[data.length - 1]! ^= 1;
    const err = await codec.decode([{ ...enc!, data }]).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/encrypted with key k2 does not authenticate .*temporal\.payloadKeys\.0/);
    for (const s of spellings(newKey)) expect(err?.message).not.toContain(s);
  });

  test.each([
    [
      'the same key twice',
      [
        { id: 'a', key: newKey },
        { id: 'b', key: Buffer.from(newKey) },
      ],
      /key 2 holds the same key as key 1 \(fingerprint [0-9a-f]{16}\)/,
    ],
    [
      'an id twice',
      [
        { id: 'a', key: newKey },
        { id: 'a', key: oldKey },
      ],
      /key 2: the id a is also key 1's/,
    ],
    [
      "an id that is another key's fingerprint",
      [
        { id: legacyId(oldKey), key: newKey },
        { id: 'old', key: oldKey },
      ],
      /key 1: the id [0-9a-f]{16} is the fingerprint of key 2's key/,
    ],
    ['a key of 16 bytes', [{ id: 'a', key: randomBytes(16) }], /key 1: the key is 16 bytes, not 32/],
    ['no key at all', [], /empty/],
  ])('refused: %s', (_what, keys, message) => {
    expect(() => new KeyRing(keys)).toThrow(KeyRingError);
    expect(() => new KeyRing(keys)).toThrow(message);
  });
});

describe('the config: temporal.payloadKeys', () => {
  let dir: string;
  const file = (name: string, content: string) => {
    const f = join(dir, name);
    writeFileSync(f, content, { mode: 0o600 });
    return f;
  };
  const config = (temporal: string) =>
    parseConfig(
      `temporal:\n${temporal}\nrepository: { path: ${dir}/repo }\nencryption: { passphrase: { file: ${dir}/pass } }\nclouds:\n  lab:\n    hosts: { db1: { address: 127.0.0.1, keyFile: ${dir}/id, hostKeyFingerprint: "SHA256:${'A'.repeat(43)}", mariadb: { datadir: /var/lib/mysql, stopCommand: [x], startCommand: [y] } } }\n    database: { host: db1, user: osbackup, password: { file: ${dir}/pass } }\n`,
      'test.yml',
    );
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'osb-keyring-'));
    file('pass', 'not empty\n');
    file('id', 'not empty\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('the ring as configured: first current, hex or base64, ids or fingerprints; config check passes', async () => {
    const c = config(
      `  payloadKeys:\n    - { id: "2026-05", key: { file: ${file('new.key', newKey.toString('hex'))} } }\n    - key: { file: ${file('old.key', oldKey.toString('base64'))} }`,
    );
    const ring = payloadKeyRing(c)!;
    expect(ring.keys.map((k) => k.id)).toEqual(['2026-05', legacyId(oldKey)]);
    expect(ring.current.key.equals(newKey)).toBe(true);
    const [codec] = payloadCodecs(c) as AesGcmPayloadCodec[];
    expect(codec!.keyId).toBe('2026-05');
    expect(await checkConfigResources(c, {})).toEqual([]);
  });

  test('a single payloadKey is a ring of one with the fingerprint id', () => {
    const c = config(`  payloadKey: { file: ${file('single.key', oldKey.toString('hex'))} }`);
    expect(payloadKeyRing(c)!.keys.map((k) => k.id)).toEqual([legacyId(oldKey)]);
  });

  test('config check resolves every key of the ring: each bad one reported at its path, no key printed', async () => {
    const short = file('short.key', randomBytes(16).toString('base64'));
    const c = config(
      `  payloadKeys:\n    - { id: a, key: { file: ${file('a.key', newKey.toString('hex'))} } }\n    - { id: b, key: { file: ${short} } }\n    - { id: c, key: { file: ${dir}/missing.key } }\n    - { id: d, key: { env: OSB_TEST_PAYLOAD_KEY } }`,
    );
    const problems = await checkConfigResources(c, { OSB_TEST_PAYLOAD_KEY: oldKey.toString('hex') });
    expect(problems.map((p) => p.path).sort()).toEqual(['temporal.payloadKeys.1.key', 'temporal.payloadKeys.2.key']);
    expect(problems.find((p) => p.path.endsWith('1.key'))!.message).toMatch(/the key is 16 bytes, not 32/);
    expect(() => payloadKeyRing(c)).toThrow(TemporalSetupError);
    for (const s of [...spellings(newKey), ...spellings(oldKey)]) expect(JSON.stringify(problems)).not.toContain(s);
  });

  test('config check: the same key under two ids is a problem of the ring', async () => {
    const c = config(
      `  payloadKeys:\n    - { id: a, key: { file: ${file('dup1.key', newKey.toString('hex'))} } }\n    - { id: b, key: { file: ${file('dup2.key', newKey.toString('base64'))} } }`,
    );
    expect(await checkConfigResources(c, {})).toEqual([
      {
        path: 'temporal.payloadKeys.1',
        message: expect.stringMatching(/holds the same key as temporal\.payloadKeys\.0/),
      },
    ]);
  });

  test.each([
    [
      'payloadKey and payloadKeys together',
      `  payloadKey: { file: /k }\n  payloadKeys: [{ key: { file: /k2 } }]`,
      /payloadKey and payloadKeys together/,
    ],
    [
      'an id twice',
      `  payloadKeys: [{ id: a, key: { file: /k } }, { id: a, key: { file: /k2 } }]`,
      /the id a is used twice/,
    ],
    ['an id with a space', `  payloadKeys: [{ id: "new key", key: { file: /k } }]`, /a key id is 1-64 letters/],
    ['an empty ring', `  payloadKeys: []`, /list at least one key/],
  ])('the schema refuses %s', (_what, temporal, message) => {
    expect(() => config(temporal)).toThrow(message);
  });
});
