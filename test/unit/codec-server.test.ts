// The codec server in-process on an ephemeral loopback port: the protocol the Temporal UI and
// `temporal --codec-endpoint` speak, and who it refuses.
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { AesGcmPayloadCodec } from '../../config/temporal.js';
import { allowedOrigins, createCodecServer, listen, parseListen } from '../../client/codec-server.js';

const key = randomBytes(32);
const UI = 'http://127.0.0.1:8233';
const TOKEN = 'test-token-123';
let server: Server;
let url: string;

beforeAll(async () => {
  server = createCodecServer({
    codecs: [new AesGcmPayloadCodec(key)],
    namespace: 'osbackup',
    origins: allowedOrigins(UI, ['https://ui.example.com']),
    token: TOKEN,
  });
  url = await listen(server, '127.0.0.1', 0);
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const json = (s: string) => Buffer.from(s).toString('base64');
type Payloads = { payloads: { metadata: Record<string, string>; data?: string }[] };
type Encoded = { payloads: { metadata: Record<string, string>; data: string }[] };
const plain: Payloads = {
  payloads: [
    { metadata: { encoding: json('json/plain') }, data: json('{"cloud":"prod","note":"visible?"}') },
    { metadata: { encoding: json('binary/null') } },
  ],
};

function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(url + path, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'X-Namespace': 'osbackup',
      Authorization: `Bearer ${TOKEN}`,
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

test('encode → decode gives back the input; the encoded form holds no plaintext', async () => {
  const enc = await post('/encode', plain);
  expect(enc.status).toBe(200);
  const encoded = (await enc.json()) as Encoded;
  expect(encoded.payloads).toHaveLength(2);
  expect(JSON.stringify(encoded)).not.toContain(plain.payloads[0]!.data);
  expect(Buffer.from(encoded.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('binary/encrypted');
  const dec = await post('/decode', encoded);
  expect(dec.status).toBe(200);
  expect(await dec.json()).toEqual({
    payloads: [plain.payloads[0], { metadata: plain.payloads[1]!.metadata, data: '' }],
  });
});

test('the endpoint may sit under any path prefix (only the last segment counts)', async () => {
  const enc = (await (await post('/codec/osbackup/encode', plain)).json()) as Encoded;
  const dec = await post('/codec/osbackup/decode', enc);
  expect(((await dec.json()) as Encoded).payloads[0]).toEqual(plain.payloads[0]);
});

test('a payload encrypted with another key: 400, a clear message, no key material', async () => {
  const [other] = await new AesGcmPayloadCodec(randomBytes(32)).encode([
    { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"x"') },
  ]);
  const res = await post('/decode', {
    payloads: [
      {
        metadata: Object.fromEntries(
          Object.entries(other!.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')]),
        ),
        data: Buffer.from(other!.data!).toString('base64'),
      },
    ],
  });
  expect(res.status).toBe(400);
  const { error } = (await res.json()) as { error: string };
  expect(error).toMatch(
    /cannot decode: payload was encrypted with key [0-9a-f]{16}, which is not in this process's payload key ring \([0-9a-f]{16} \(current\)\)\. Fix: add that key/,
  );
  expect(error).not.toContain(key.toString('hex'));
  expect(error).not.toContain(key.toString('base64'));

  // Same key id, tampered bytes: still a 400 that says what it means.
  const enc = (await (await post('/encode', plain)).json()) as Encoded;
  const data = Buffer.from(enc.payloads[0]!.data, 'base64');
  data[data.length - 1]! ^= 1;
  const bad = await post('/decode', { payloads: [{ ...enc.payloads[0], data: data.toString('base64') }] });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { error: string }).error).toMatch(
    /cannot decode: a payload encrypted with key [0-9a-f]{16} does not authenticate under this process's key/,
  );
});

test('no token or a wrong one: 401', async () => {
  const none = await fetch(`${url}/decode`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Namespace': 'osbackup' },
    body: JSON.stringify(plain),
  });
  expect(none.status).toBe(401);
  expect(none.headers.get('www-authenticate')).toBe('Bearer');
  expect((await post('/decode', plain, { Authorization: 'Bearer nope' })).status).toBe(401);
  expect((await post('/encode', plain, { Authorization: TOKEN })).status).toBe(401);
});

test('another namespace: 403', async () => {
  const res = await post('/decode', plain, { 'X-Namespace': 'default' });
  expect(res.status).toBe(403);
  expect(((await res.json()) as { error: string }).error).toMatch(
    /namespace default is not served here \(only osbackup\)/,
  );
});

test('CORS: the UI origin gets its preflight answered; other origins are refused', async () => {
  const pre = await fetch(`${url}/decode`, {
    method: 'OPTIONS',
    headers: {
      Origin: UI,
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'content-type,x-namespace,authorization',
      'Access-Control-Request-Private-Network': 'true',
    },
  });
  expect(pre.status).toBe(204);
  expect(pre.headers.get('access-control-allow-origin')).toBe(UI);
  expect(pre.headers.get('access-control-allow-methods')).toMatch(/POST/);
  const allowed = pre.headers.get('access-control-allow-headers')!.toLowerCase().split(/,\s*/);
  expect(allowed).toEqual(expect.arrayContaining(['content-type', 'x-namespace', 'authorization']));
  expect(pre.headers.get('access-control-allow-credentials')).toBe('true');
  expect(pre.headers.get('access-control-allow-private-network')).toBe('true');

  // localhost and 127.0.0.1 are the same UI to a person; --origin adds more.
  for (const o of ['http://localhost:8233', 'https://ui.example.com']) {
    const r = await fetch(`${url}/decode`, {
      method: 'OPTIONS',
      headers: { Origin: o, 'Access-Control-Request-Method': 'POST' },
    });
    expect([r.status, r.headers.get('access-control-allow-origin')]).toEqual([204, o]);
  }

  const ok = await post('/encode', plain, { Origin: UI });
  expect([ok.status, ok.headers.get('access-control-allow-origin')]).toEqual([200, UI]);

  const evil = await fetch(`${url}/decode`, {
    method: 'OPTIONS',
    headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' },
  });
  expect(evil.status).toBe(403);
  expect(evil.headers.get('access-control-allow-origin')).toBeNull();
  expect((await post('/decode', plain, { Origin: 'https://evil.example' })).status).toBe(403);
});

test('bad requests are refused with reasons', async () => {
  expect((await post('/decode', { nope: 1 })).status).toBe(400);
  expect((await post('/decode', { payloads: [{ data: 'not base64!' }] })).status).toBe(400);
  expect((await post('/decode', plain, { 'Content-Type': 'text/plain' })).status).toBe(415);
  expect((await fetch(`${url}/decode`, { headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(405);
  expect((await post('/other', plain)).status).toBe(404);
});

test('--listen parsing', () => {
  expect(parseListen('127.0.0.1:8888')).toEqual({ host: '127.0.0.1', port: 8888 });
  expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
  expect(() => parseListen('8888')).toThrow(/expected host:port/);
});
