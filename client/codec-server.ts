// `osbackup codec-server`: Temporal's remote codec protocol (POST …/encode, POST …/decode with
// Payloads as protobuf JSON) over the payload codec, so that someone who holds the payload key
// can read osbackup's encrypted history in the Temporal UI ("Data Encoder") or with
// `temporal … --codec-endpoint`. Whoever can reach it can decrypt: it listens on loopback by
// default, answers browsers only from the allowed origins, can require a bearer token, and
// serves only the configured namespace.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { redact } from '../activities/redact.js';
import type { Config } from '../config/schema.js';
import { AesGcmPayloadCodec, payloadCodecs } from '../config/temporal.js';
import { CliError, EXIT } from './connect.js';

export interface CodecServerOptions {
  codecs: PayloadCodec[];
  /** The only namespace served; requests naming another one (X-Namespace) get 403. */
  namespace: string;
  /** Browser origins allowed by CORS (scheme://host:port). */
  origins: string[];
  /** When set, every POST needs `Authorization: Bearer <token>`. */
  token?: string;
  maxBodyBytes?: number;
}

const ALLOWED_HEADERS = 'Content-Type, X-Namespace, Authorization, Authorization-Extras';

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The loopback spellings of an origin are one origin to a person: allow both. */
export function allowedOrigins(uiUrl: string, extra: string[] = []): string[] {
  const out = new Set<string>();
  for (const raw of [uiUrl, ...extra]) {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new CliError(`--origin ${raw}: not a URL (expected e.g. https://temporal.example.com)`, EXIT.usage);
    }
    out.add(u.origin);
    if (u.hostname === '127.0.0.1') out.add(u.origin.replace('127.0.0.1', 'localhost'));
    if (u.hostname === 'localhost') out.add(u.origin.replace('localhost', '127.0.0.1'));
  }
  return [...out];
}

export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new CliError(`--listen ${s}: expected host:port, e.g. 127.0.0.1:8888`, EXIT.usage);
  return { host: (m[1] ?? m[2])!, port };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

// Protobuf JSON: bytes are base64 (either alphabet); metadata maps strings to bytes.
function fromJson(body: unknown): Payload[] {
  const list = (body as { payloads?: unknown } | null)?.payloads;
  if (!Array.isArray(list)) throw new HttpError(400, 'expected a JSON body {"payloads": [...]}');
  const bytes = (v: unknown, where: string) => {
    if (v === undefined || v === null) return new Uint8Array();
    if (typeof v !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(v))
      throw new HttpError(400, `${where}: expected base64`);
    return new Uint8Array(Buffer.from(v, 'base64'));
  };
  return list.map((p: unknown, i) => {
    if (typeof p !== 'object' || p === null) throw new HttpError(400, `payloads[${i}]: expected an object`);
    const { metadata, data } = p as { metadata?: unknown; data?: unknown };
    if (metadata !== undefined && (typeof metadata !== 'object' || metadata === null))
      throw new HttpError(400, `payloads[${i}].metadata: expected an object`);
    return {
      metadata: Object.fromEntries(
        Object.entries((metadata ?? {}) as Record<string, unknown>).map(([k, v]) => [
          k,
          bytes(v, `payloads[${i}].metadata.${k}`),
        ]),
      ),
      data: bytes(data, `payloads[${i}].data`),
    };
  });
}

function toJson(payloads: Payload[]): { payloads: { metadata: Record<string, string>; data: string }[] } {
  const b64 = (u?: Uint8Array | null) => Buffer.from(u ?? []).toString('base64');
  return {
    payloads: payloads.map((p) => ({
      metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, b64(v)])),
      data: b64(p.data),
    })),
  };
}

async function readBody(req: IncomingMessage, max: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > max) throw new HttpError(413, `request body larger than ${max} bytes`);
    chunks.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
}

async function run(codecs: PayloadCodec[], op: 'encode' | 'decode', payloads: Payload[]): Promise<Payload[]> {
  let out = payloads;
  if (op === 'encode') for (const c of codecs) out = await c.encode(out);
  else {
    for (const c of [...codecs].reverse()) {
      try {
        out = await c.decode(out);
      } catch (e) {
        // the codec's own messages name key ids and the fix; anything else (malformed data) is not shown
        const m = (e as Error).message;
        throw new HttpError(
          400,
          /encrypted with (key|a key without)/.test(m)
            ? `cannot decode: ${m}`
            : 'cannot decode: a payload does not authenticate under this key (wrong key, or corrupted)',
        );
      }
    }
  }
  return out;
}

export function createCodecServer(opts: CodecServerOptions): Server {
  const origins = new Set(opts.origins);
  const max = opts.maxBodyBytes ?? 16 * 1024 * 1024;
  const token = opts.token === undefined ? undefined : digest(opts.token);

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const origin = req.headers.origin;
    // A browser page from any other origin is refused outright: the server decrypts for whoever asks.
    if (origin !== undefined && !origins.has(origin))
      throw new HttpError(
        403,
        `origin ${origin} is not allowed (allowed: ${[...origins].join(', ')}; add one with --origin)`,
      );
    if (origin !== undefined) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
    }
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
      // Chrome's private network access: a public UI page calling this loopback server.
      if (req.headers['access-control-request-private-network'] === 'true')
        res.setHeader('Access-Control-Allow-Private-Network', 'true');
      res.writeHead(204).end();
      return;
    }
    const op = /\/(encode|decode)\/?$/.exec(new URL(req.url ?? '/', 'http://x').pathname)?.[1] as
      | 'encode'
      | 'decode'
      | undefined;
    if (!op) throw new HttpError(404, 'not found: POST …/encode or …/decode');
    if (req.method !== 'POST') throw new HttpError(405, `${req.method ?? ''} not allowed: use POST`);
    if (token) {
      const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
      if (!m || !timingSafeEqual(digest(m[1]!.trim()), token)) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        throw new HttpError(401, 'a valid "Authorization: Bearer <token>" is required');
      }
    }
    const ns = req.headers['x-namespace'];
    if (ns !== undefined && ns !== opts.namespace)
      throw new HttpError(403, `namespace ${String(ns)} is not served here (only ${opts.namespace})`);
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? ''))
      throw new HttpError(415, 'Content-Type must be application/json');
    const out = await run(opts.codecs, op, fromJson(await readBody(req, max)));
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(toJson(out)));
  };

  return createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      const message = e instanceof HttpError ? e.message : 'internal error';
      if (!(e instanceof HttpError))
        console.error(`codec server: ${redact(e instanceof Error ? e.message : String(e))}`);
      if (!res.headersSent) res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: redact(message) }));
      req.resume();
    });
  });
}

export async function listen(server: Server, host: string, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}

export interface CodecServerFlags {
  listen: string;
  origin?: string[];
  tokenFile?: string;
}

/** The command: runs until SIGINT/SIGTERM. */
export async function runCodecServer(config: Config, flags: CodecServerFlags): Promise<void> {
  const codecs = payloadCodecs(config);
  if (!codecs.length)
    throw new CliError(
      'neither temporal.payloadKeys nor temporal.payloadKey is set in the config: payloads are not encrypted, so there is nothing to decode',
      EXIT.configInvalid,
    );
  const { host, port } = parseListen(flags.listen);
  let token: string | undefined;
  if (flags.tokenFile) {
    try {
      token = readFileSync(flags.tokenFile, 'utf8').trim();
    } catch (e) {
      throw new CliError(`--token-file ${flags.tokenFile}: ${(e as Error).message}`, EXIT.usage);
    }
    if (!token) throw new CliError(`--token-file ${flags.tokenFile} is empty`, EXIT.usage);
  }
  if (!isLoopback(host) && !token)
    throw new CliError(
      `--listen ${flags.listen} is reachable from other machines: anyone there could decrypt the history. Fix: add --token-file, or listen on 127.0.0.1`,
      EXIT.usage,
    );
  const origins = allowedOrigins(config.temporal.uiUrl, flags.origin);
  const server = createCodecServer({ codecs, namespace: config.temporal.namespace, origins, token });
  let url: string;
  try {
    url = await listen(server, host, port);
  } catch (e) {
    throw new CliError(`cannot listen on ${flags.listen}: ${(e as Error).message}`, EXIT.usage);
  }
  const keyId = codecs[0] instanceof AesGcmPayloadCodec ? `, keys ${codecs[0].ring.describe()}` : '';
  process.stdout.write(
    `osbackup codec server on ${url} (namespace ${config.temporal.namespace}${keyId})\n` +
      `  Temporal UI (${origins.join(', ')}): Data Encoder → Codec Server endpoint ${url}\n` +
      `  temporal CLI: --codec-endpoint ${url}${token ? ` --codec-auth "Bearer $(cat ${flags.tokenFile})"` : ''}\n` +
      (token
        ? '  requests need "Authorization: Bearer <token>" (the UI sends one only over https, with "Pass access token")\n'
        : '') +
      '  Ctrl-C stops it\n',
  );
  await new Promise<void>((resolve) => {
    const stop = () => {
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
