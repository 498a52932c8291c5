// Connecting to Temporal (dev server, a cluster, or Temporal Cloud) and the payload codec
// that encrypts everything osbackup puts into Temporal history.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DataConverter, LoadedDataConverter, Payload, PayloadCodec, ProtoFailure } from '@temporalio/common';
import type { Config, SecretRef } from './schema.js';
import { AesGcmPayloadCodec, KeyRing, KeyRingError } from './payload-codec.js';

export { AesGcmPayloadCodec, KeyRing } from './payload-codec.js';

/** A config secret the client side needs itself (not through an activity); errors name the reference, never a value. */
export class TemporalSetupError extends Error {
  override name = 'TemporalSetupError';
}

function readRef(ref: SecretRef, what: string, env: NodeJS.ProcessEnv = process.env): string {
  let v: string | undefined;
  if (ref.file) {
    try {
      v = readFileSync(ref.file, 'utf8');
    } catch (e) {
      throw new TemporalSetupError(
        `${what}: the file ${ref.file} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'}). Fix: create it (mode 0600) or point ${what}.file at the right file`,
      );
    }
  } else {
    v = env[ref.env!];
    if (v === undefined)
      throw new TemporalSetupError(
        `${what}: environment variable ${ref.env} is not set. Fix: export ${ref.env} for this process (the worker's service environment, or your shell)`,
      );
  }
  if (!v.trim())
    throw new TemporalSetupError(`${what}: the secret is empty. Fix: put it in the referenced file or variable`);
  return v.trim();
}

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TemporalSetupError(
      `${what}: ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'}). Fix: correct the path or the file's permissions`,
    );
  }
}

/** The configured payload keys, first the current one: where each is (for messages), its id if named, its reference. */
export function payloadKeyEntries(config: Config): { path: string; id?: string; ref: SecretRef }[] {
  const t = config.temporal;
  if (t.payloadKeys) return t.payloadKeys.map((k, i) => ({ path: `temporal.payloadKeys.${i}`, id: k.id, ref: k.key }));
  return t.payloadKey ? [{ path: 'temporal.payloadKey', ref: t.payloadKey }] : [];
}

/** One key's bytes: 64 hex digits or base64 of 32 bytes. */
export function readPayloadKey(ref: SecretRef, what: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  const text = readRef(ref, what, env);
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== 32)
    throw new TemporalSetupError(
      `${what}: the key is ${key.length} bytes, not 32. Fix: write 32 random bytes as hex or base64 (openssl rand -hex 32)`,
    );
  return key;
}

/** The config's key ring, every key read; null when payloads are not encrypted. */
export function payloadKeyRing(config: Config): KeyRing | null {
  const entries = payloadKeyEntries(config);
  if (!entries.length) return null;
  const keys = entries.map((e) => ({
    id: e.id,
    key: readPayloadKey(e.ref, e.path.startsWith('temporal.payloadKeys') ? `${e.path}.key` : e.path),
    source: e.path,
  }));
  try {
    return new KeyRing(keys);
  } catch (e) {
    if (e instanceof KeyRingError) throw new TemporalSetupError(e.message);
    throw e;
  }
}

export function payloadCodecs(config: Config): PayloadCodec[] {
  const ring = payloadKeyRing(config);
  return ring ? [new AesGcmPayloadCodec(ring)] : [];
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
        serverRootCACertificate: t.tls.serverRootCaFile
          ? readFile(t.tls.serverRootCaFile, 'temporal.tls.serverRootCaFile')
          : undefined,
        clientCertPair:
          t.tls.clientCertFile && t.tls.clientKeyFile
            ? {
                crt: readFile(t.tls.clientCertFile, 'temporal.tls.clientCertFile'),
                key: readFile(t.tls.clientKeyFile, 'temporal.tls.clientKeyFile'),
              }
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

/** How this config reaches Temporal, for error messages (file names and variable names, never a secret). */
export function connectionSetup(config: Config): string {
  const t = config.temporal;
  const tls = t.tls
    ? `TLS with ${t.tls.serverRootCaFile ? `server CA ${t.tls.serverRootCaFile}` : "the system's CAs"}${t.tls.clientCertFile ? `, client certificate ${t.tls.clientCertFile}` : ', no client certificate'}${t.tls.serverName ? `, server name ${t.tls.serverName}` : ''}`
    : t.apiKey
      ? "TLS with the system's CAs (an API key implies TLS)"
      : 'plain TCP, no TLS';
  const key = t.apiKey ? `API key from ${t.apiKey.env ? `$${t.apiKey.env}` : t.apiKey.file}` : 'no API key';
  return `${tls}; ${key}`;
}

// What the transports (rustls and tonic in the SDK, OpenSSL in a direct node:tls handshake) say,
// by cause. The server's alerts come first: they are about what this client sent.
const CLIENT_CERT_REFUSED =
  /alert (certificate required|handshake failure|bad certificate|unknown ca)|certificaterequired|peer sent no certificates/;
const SERVER_CA_UNKNOWN =
  /unable to (get local issuer|verify the first) certificate|self[- ]signed certificate|unknownissuer|certificate verify failed|invalid peer certificate/;
const NAME_MISMATCH =
  /altnames|notvalidforname|not valid for name|hostname\/ip does not match|err_tls_cert_altname_invalid/;
const TLS_VS_PLAIN =
  /wrong version number|packet length too long|invalidcontenttype|corrupt ?message|record layer failure|econnreset.*tls|before secure tls connection/;

/**
 * A certificate the server refuses or asks for, a server certificate this config cannot trust or
 * that names another host: the settings themselves are wrong, so no retry can succeed.
 */
export function isCertificateRefusal(message: string): boolean {
  const m = message.toLowerCase();
  return [CLIENT_CERT_REFUSED, SERVER_CA_UNKNOWN, NAME_MISMATCH].some((r) => r.test(m));
}

/**
 * Why a connection to Temporal failed, from the transport's message, and the fix. The SDK's
 * errors are transport strings (rustls, tonic, gRPC status); the patterns are the ones a wrong
 * CA, a missing client certificate, TLS against plain TCP, a wrong name, a bad key and nothing
 * listening produce.
 */
export function connectionHint(message: string, config: Config): string {
  const t = config.temporal;
  const m = message.toLowerCase();
  if (CLIENT_CERT_REFUSED.test(m))
    return t.tls?.clientCertFile
      ? `the server refused the client certificate ${t.tls.clientCertFile}. Fix: use a certificate signed by the CA the server trusts for clients`
      : 'the server asks for a client certificate (mutual TLS) and this config has none. Fix: set temporal.tls.clientCertFile and clientKeyFile';
  if (SERVER_CA_UNKNOWN.test(m))
    return `the server's certificate is not signed by the CA this config trusts. Fix: point temporal.tls.serverRootCaFile at the CA that signed the server's certificate${t.tls?.serverRootCaFile ? ` (now ${t.tls.serverRootCaFile})` : ''}`;
  if (NAME_MISMATCH.test(m))
    return `the server's certificate does not name ${t.tls?.serverName ?? t.address.replace(/:\d+$/, '')}. Fix: set temporal.tls.serverName to a name the certificate holds`;
  if (TLS_VS_PLAIN.test(m))
    return t.tls || t.apiKey
      ? 'TLS was refused: the server may speak plain TCP at this address. Fix: remove temporal.tls (and apiKey), or use the TLS port'
      : 'the server did not answer as plain gRPC: it may require TLS. Fix: set temporal.tls (serverRootCaFile; clientCertFile/clientKeyFile for mutual TLS)';
  if (/unauthenticated|permission ?denied|invalid api key|\b401\b|\b403\b/.test(m))
    return 'the server refused the credentials. Fix: check the API key (temporal.apiKey) or the client certificate and its grants for the namespace';
  if (/connection refused|econnrefused/.test(m))
    return `nothing listens at ${t.address}. Fix: start Temporal there, or correct temporal.address`;
  if (/dns|name or service not known|failed to lookup|enotfound|eai_again/.test(m))
    return `the name in ${t.address} does not resolve. Fix: correct temporal.address`;
  if (/timed out|timeout|deadline/.test(m))
    return `no answer from ${t.address} in time (a firewall, or a wrong address/port). Fix: check the network path and temporal.address`;
  return 'not recognised. Fix: check temporal.address and the TLS settings against the server';
}

/**
 * The message for a failed connection: where, how (TLS, key), what the transport said, the
 * likely cause. `probe` is what one direct handshake with the same settings said (the SDK's own
 * error often hides it), null when that handshake went through.
 */
export function unreachableMessage(e: unknown, config: Config, probe?: string | null): string {
  const said = e instanceof Error ? e.message : String(e);
  const seen = probe ? `${said}; a direct handshake says: ${probe}` : said;
  return `cannot connect to Temporal at ${config.temporal.address} (${connectionSetup(config)}): ${seen}. Likely cause: ${connectionHint(probe ?? said, config)}`;
}
