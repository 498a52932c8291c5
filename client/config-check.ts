// `config check` beyond the schema: what the file names must exist and open on this host. Every
// secret reference is resolved (its value is never printed or kept), every worker-local file is
// read, a TLS client pair must belong together, and payloads must be encrypted unless the
// config says otherwise. Remote paths (a host's defaultsFile, restoreDir, …) are the hosts'
// business and are left to `osbackup preflight`.
import { accessSync, constants, readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { payloadCodecs, TemporalSetupError } from '../config/temporal.js';
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
  const t = config.temporal;
  if (!t.payloadKey && !t.allowUnencryptedPayloads)
    problems.push({
      path: 'temporal.payloadKey',
      message:
        'not set: workflow inputs, results and failures would be stored in Temporal in clear. Fix: set temporal.payloadKey to a 32-byte key (openssl rand -hex 32 > /etc/osbackup/payload.key), or set temporal.allowUnencryptedPayloads: true to accept that',
    });
  else if (t.payloadKey && !problems.some((p) => p.path === 'temporal.payloadKey')) {
    try {
      payloadCodecs(config);
    } catch (e) {
      if (e instanceof TemporalSetupError) problems.push({ path: 'temporal.payloadKey', message: e.message });
      else throw e;
    }
  }
  return problems;
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
