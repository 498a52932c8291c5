// Connecting to Temporal (dev server, a cluster, or Temporal Cloud) and the payload codec
// that encrypts everything osbackup puts into Temporal history.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DataConverter, LoadedDataConverter, Payload, PayloadCodec, ProtoFailure } from '@temporalio/common';
import proto from '@temporalio/proto';

const { temporal } = proto;
import type { Config, SecretRef } from './schema.js';

const ENCODING = 'binary/encrypted';

/** AES-256-GCM over the whole serialized payload; the key id lets keys rotate. */
export class AesGcmPayloadCodec implements PayloadCodec {
  readonly keyId: string;
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('the payload key must be 32 bytes');
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 16);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', this.key, iv);
      const body = Buffer.concat([c.update(temporal.api.common.v1.Payload.encode(p).finish()), c.final()]);
      return {
        metadata: { encoding: Buffer.from(ENCODING), 'encryption-key-id': Buffer.from(this.keyId) },
        data: Buffer.concat([iv, c.getAuthTag(), body]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (Buffer.from(p.metadata?.encoding ?? []).toString() !== ENCODING) return p;
      const kid = Buffer.from(p.metadata?.['encryption-key-id'] ?? []).toString();
      if (kid !== this.keyId)
        throw new Error(`payload was encrypted with key ${kid}; this process has ${this.keyId} (temporal.payloadKey)`);
      const d = Buffer.from(p.data ?? []);
      const dec = createDecipheriv('aes-256-gcm', this.key, d.subarray(0, 12));
      dec.setAuthTag(d.subarray(12, 28));
      return temporal.api.common.v1.Payload.decode(Buffer.concat([dec.update(d.subarray(28)), dec.final()])) as Payload;
    });
  }
}

function readRef(ref: SecretRef, what: string): string {
  if (ref.file) return readFileSync(ref.file, 'utf8').trim();
  const v = process.env[ref.env!];
  if (v === undefined) throw new Error(`${what}: environment variable ${ref.env} is not set`);
  return v.trim();
}

export function payloadCodecs(config: Config): PayloadCodec[] {
  const ref = config.temporal.payloadKey;
  if (!ref) return [];
  const text = readRef(ref, 'temporal.payloadKey');
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  return [new AesGcmPayloadCodec(key)];
}

/**
 * The compiled failure converter (config/failure-converter.cts). From source (ts-jest) there
 * is no .cjs next to this file, so the build's copy is used: run `npx tsc` first.
 */
export const FAILURE_CONVERTER_PATH =
  [
    new URL('./failure-converter.cjs', import.meta.url),
    new URL('../dist/config/failure-converter.cjs', import.meta.url),
  ]
    .map((u) => fileURLToPath(u))
    .find((p) => existsSync(p)) ?? fileURLToPath(new URL('./failure-converter.cjs', import.meta.url));

/**
 * What every osbackup worker and client hands to Temporal: the payload codec, and failures
 * whose message and stack trace are payloads too, so the codec encrypts them as well.
 */
export function dataConverter(config: Config): DataConverter {
  return { payloadCodecs: payloadCodecs(config), failureConverterPath: FAILURE_CONVERTER_PATH };
}

/**
 * The message of a failure read raw from Temporal (describe(): pending activities' lastFailure),
 * which the SDK does not decode: with the failure converter above it is "Encoded failure" and
 * the real one sits, encrypted, in encodedAttributes.
 */
export async function failureMessage(
  converter: LoadedDataConverter,
  failure: ProtoFailure | null | undefined,
): Promise<string> {
  if (!failure?.encodedAttributes) return failure?.message ?? '';
  let payload = failure.encodedAttributes as Payload;
  for (const codec of [...converter.payloadCodecs].reverse()) [payload] = (await codec.decode([payload])) as [Payload];
  const attrs = converter.payloadConverter.fromPayload<{ message?: unknown }>(payload);
  return typeof attrs?.message === 'string' ? attrs.message : (failure.message ?? '');
}

export function connectionOptions(config: Config) {
  const t = config.temporal;
  const tls = t.tls
    ? {
        serverNameOverride: t.tls.serverName,
        serverRootCACertificate: t.tls.serverRootCaFile ? readFileSync(t.tls.serverRootCaFile) : undefined,
        clientCertPair:
          t.tls.clientCertFile && t.tls.clientKeyFile
            ? { crt: readFileSync(t.tls.clientCertFile), key: readFileSync(t.tls.clientKeyFile) }
            : undefined,
      }
    : undefined;
  const apiKey = t.apiKey ? readRef(t.apiKey, 'temporal.apiKey') : undefined;
  return { address: t.address, tls: tls ?? (apiKey ? true : undefined), apiKey };
}

export function workflowUiUrl(config: Config, workflowId: string, runId?: string): string {
  const base = `${config.temporal.uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${runId}/history` : base;
}
