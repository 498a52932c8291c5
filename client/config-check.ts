// `config check` beyond the schema: what the file names must exist and open on this host. Every
// secret reference is resolved (its value is never printed or kept), every worker-local file is
// read, a TLS client pair must belong together, and payloads must be encrypted unless the
// config says otherwise. Remote paths (a host's defaultsFile, restoreDir, …) are the hosts'
// business and are left to `osbackup preflight`.
import { accessSync, constants, readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { KeyRing, KeyRingError } from '../config/payload-codec.js';
import { payloadKeyEntries, readPayloadKey, TemporalSetupError } from '../config/temporal.js';
import { resolveSecret } from '../activities/secrets.js';

export interface Problem {
  path: string;
  message: string;
}

const isSecretRef = (v: unknown): v is { file?: string; env?: string } =>
  typeof v === 'object' &&
  v !== null &&
  !Array.isArray(v) &&
  Object.keys(v).length === 1 &&
  (typeof (v as { file?: unknown }).file === 'string' || typeof (v as { env?: unknown }).env === 'string');

/** Keys whose values are files the worker itself reads. */
const LOCAL_FILE_KEYS = new Set([
  'keyFile',
  'secretKeyFile',
  'recipientKeyFiles',
  'serverRootCaFile',
  'clientCertFile',
  'clientKeyFile',
]);

function walk(v: unknown, path: string[], visit: (v: unknown, path: string[]) => boolean): void {
  if (visit(v, path)) return;
  if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, String(i)], visit));
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) walk(x, [...path, k], visit);
}

export async function checkConfigResources(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<Problem[]> {
  const problems: Problem[] = [];
  const refs: { path: string; ref: { file?: string; env?: string } }[] = [];
  const files: { path: string; file: string }[] = [];
  walk(config, [], (v, path) => {
    const key = path.at(-1) ?? '';
    if (isSecretRef(v)) {
      refs.push({ path: path.join('.'), ref: v });
      return true;
    }
    if (LOCAL_FILE_KEYS.has(key) && typeof v === 'string') files.push({ path: path.join('.'), file: v });
    if (LOCAL_FILE_KEYS.has(key) && Array.isArray(v))
      v.forEach((f, i) => typeof f === 'string' && files.push({ path: `${path.join('.')}.${i}`, file: f }));
    return false;
  });
  for (const { path, ref } of refs) {
    try {
      // named neutrally: the path (e.g. "…password") followed by ": " reads as a secret to the redaction
      await resolveSecret(ref, 'it', env);
    } catch (e) {
      problems.push({ path, message: (e as Error).message.replace(/^it: /, '') });
    }
  }
  for (const { path, file } of files) {
    try {
      accessSync(file, constants.R_OK);
    } catch (e) {
      problems.push({
        path,
        message: `${file} cannot be read here (${(e as NodeJS.ErrnoException).code ?? 'error'}): the worker reads it`,
      });
    }
  }
  problems.push(...tlsProblems(config));
  problems.push(...payloadKeyProblems(config, problems, env));
  return problems;
}

/**
 * Payloads are encrypted unless the config says otherwise; every key of the ring is 32 bytes,
 * and together they make a ring (no key twice, no id twice, no id that is another key's
 * fingerprint). A reference that did not resolve is already among `earlier`.
 */
function payloadKeyProblems(config: Config, earlier: Problem[], env: NodeJS.ProcessEnv): Problem[] {
  const t = config.temporal;
  const entries = payloadKeyEntries(config);
  if (!entries.length)
    return t.allowUnencryptedPayloads
      ? []
      : [
          {
            path: 'temporal.payloadKey',
            message:
              'not set: workflow inputs, results and failures would be stored in Temporal in clear. Fix: set temporal.payloadKeys to a ring of one 32-byte key (openssl rand -hex 32 > /etc/osbackup/payload.key), or set temporal.allowUnencryptedPayloads: true to accept that',
          },
        ];
  const out: Problem[] = [];
  const keys = [];
  for (const e of entries) {
    const path = e.path === 'temporal.payloadKey' ? e.path : `${e.path}.key`;
    if (earlier.some((p) => p.path === path)) continue;
    try {
      keys.push({ id: e.id, key: readPayloadKey(e.ref, path, env), source: e.path });
    } catch (err) {
      if (err instanceof TemporalSetupError) out.push({ path, message: err.message.replace(`${path}: `, '') });
      else throw err;
    }
  }
  if (keys.length === entries.length)
    try {
      new KeyRing(keys);
    } catch (err) {
      if (err instanceof KeyRingError) out.push({ path: err.path, message: err.message.replace(`${err.path}: `, '') });
      else throw err;
    }
  return out;
}

/** The client certificate and key must be a pair; each must parse. */
function tlsProblems(config: Config): Problem[] {
  const tls = config.temporal.tls;
  if (!tls) return [];
  const out: Problem[] = [];
  const read = (f: string | undefined) => {
    try {
      return f ? readFileSync(f) : undefined;
    } catch {
      return undefined; // reported by the file check
    }
  };
  const ca = read(tls.serverRootCaFile);
  if (ca)
    try {
      new X509Certificate(ca);
    } catch (e) {
      out.push({ path: 'temporal.tls.serverRootCaFile', message: `not a PEM certificate (${(e as Error).message})` });
    }
  const crt = read(tls.clientCertFile);
  const key = read(tls.clientKeyFile);
  if (crt && key) {
    try {
      const cert = new X509Certificate(crt);
      if (!cert.checkPrivateKey(createPrivateKey(key)))
        out.push({
          path: 'temporal.tls.clientKeyFile',
          message: `${tls.clientKeyFile} is not the key of the certificate ${tls.clientCertFile}`,
        });
    } catch (e) {
      out.push({
        path: 'temporal.tls.clientCertFile',
        message: `the certificate or its key does not parse (${(e as Error).message})`,
      });
    }
  }
  return out;
}
