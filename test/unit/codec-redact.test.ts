import { randomBytes } from 'node:crypto';
import { AesGcmPayloadCodec } from '../../config/temporal.js';
import { redact, registerSecret } from '../../activities/redact.js';

describe('payload codec (Temporal history holds no plaintext)', () => {
  const payload = {
    metadata: { encoding: Buffer.from('json/plain') },
    data: Buffer.from(JSON.stringify({ cloud: 'prod', note: 'visible?' })),
  };

  test('round trip, and the stored bytes do not contain the plaintext', async () => {
    const codec = new AesGcmPayloadCodec(randomBytes(32));
    const [enc] = await codec.encode([payload]);
    expect(Buffer.from(enc!.data!).includes(Buffer.from('visible?'))).toBe(false);
    expect(Buffer.from(enc!.metadata!.encoding!).toString()).toBe('binary/encrypted');
    const [dec] = await codec.decode([enc!]);
    expect(Buffer.from(dec!.data!).toString()).toBe(payload.data.toString());
  });

  test('another key cannot read it, and tampering is detected', async () => {
    const a = new AesGcmPayloadCodec(randomBytes(32));
    const [enc] = await a.encode([payload]);
    await expect(new AesGcmPayloadCodec(randomBytes(32)).decode([enc!])).rejects.toThrow(/encrypted with key/);
    const data = Buffer.from(enc!.data!);
    data[data.length - 1]! ^= 1;
    await expect(a.decode([{ ...enc!, data }])).rejects.toThrow();
  });
});

describe('redaction', () => {
  test('registered secrets and password-shaped text are masked', () => {
    registerSecret('s3cr3t-Value');
    const out = redact('mariadb --password=hunter2 -pabc failed; token s3cr3t-Value; password: zzz');
    expect(out).not.toMatch(/hunter2|abc failed|s3cr3t-Value|zzz/);
    expect(out).toContain('***');
  });
});
