// When a connection to Temporal fails, the SDK says little ("Failed to connect before the
// deadline"): the TLS handshake's own error is retried away. One plain TLS (or TCP) handshake
// with the same settings recovers it — an unknown CA, a demanded client certificate, TLS
// against a plain-text port — so the message can name the cause.
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { isCertificateRefusal, unreachableMessage } from '../config/temporal.js';

const read = (f?: string) => {
  try {
    return f ? readFileSync(f) : undefined;
  } catch {
    return undefined;
  }
};

/**
 * OpenSSL's error strings ("802C…:error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown
 * ca:../deps/openssl/…/rec_layer_s3.c:1601:SSL alert number 48\n") as one line: the reason and
 * the alert number, without the address and source position.
 */
export function opensslReason(message: string): string {
  const m = /^[0-9A-F]+:error:[0-9A-F]+:[^:]*:[^:]*:([^:]+):[^:]*:\d+:?([\s\S]*)$/.exec(message.trim());
  const text = m ? `${m[1]}${m[2]!.trim() ? ` (${m[2]!.trim()})` : ''}` : message;
  return text.replace(/\s+/g, ' ').trim();
}

/** What one handshake with the config's transport settings says; null when it succeeds (or `signal` ends it). */
export function probeTransport(config: Config, timeoutMs = 5000, signal?: AbortSignal): Promise<string | null> {
  const t = config.temporal;
  const m = /^(.*):(\d+)$/.exec(t.address);
  const host = (m?.[1] ?? t.address).replace(/^\[(.*)\]$/, '$1');
  const port = Number(m?.[2] ?? 7233);
  return new Promise((resolve) => {
    let settled = false;
    const done = (v: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const useTls = !!t.tls || !!t.apiKey;
    const socket = useTls
      ? tlsConnect({
          host,
          port,
          servername: t.tls?.serverName ?? (isIP(host) ? undefined : host),
          ca: read(t.tls?.serverRootCaFile),
          cert: read(t.tls?.clientCertFile),
          key: read(t.tls?.clientKeyFile),
          ALPNProtocols: ['h2'],
        })
      : tcpConnect({ host, port });
    const timer = setTimeout(() => done(`no answer within ${timeoutMs / 1000} s (timed out)`), timeoutMs);
    signal?.addEventListener('abort', () => done(null), { once: true });
    socket.on('error', (e: NodeJS.ErrnoException) => done(`${e.code ? `${e.code}: ` : ''}${opensslReason(e.message)}`));
    // TLS 1.3: a server that refuses the client's certificate says so after the handshake
    // completes on the client side, in its first record; wait for it briefly
    socket.on(useTls ? 'secureConnect' : 'connect', () => setTimeout(() => done(null), 500));
  });
}

/** A connection to Temporal that failed; the message names the address, the setup, the cause and the fix. */
export class TemporalUnreachable extends Error {
  override name = 'TemporalUnreachable';
}

/**
 * `connect()` with one direct handshake beside it. A certificate refusal (the server rejects or
 * asks for a client certificate, the server's certificate is not trusted or names another host)
 * cannot be cured by the SDK's retries, so it fails at once rather than at the SDK's deadline;
 * any other failure waits for the SDK and is explained with what the handshake said.
 */
export async function connectExplained<C extends { close(): Promise<void> }>(
  config: Config,
  connect: () => Promise<C>,
): Promise<C> {
  const stop = new AbortController();
  const probing = probeTransport(config, 5000, stop.signal).catch(() => null);
  const connecting = connect();
  const refused = probing.then((p) => (p && isCertificateRefusal(p) ? p : new Promise<never>(() => undefined)));
  const first = await Promise.race([
    connecting.then(
      (c) => ({ c }),
      (e: unknown) => ({ e }),
    ),
    refused.then((p) => ({ p })),
  ]);
  if ('c' in first) {
    stop.abort();
    return first.c;
  }
  if ('p' in first) {
    // the SDK gives up on its own at its deadline; a connection it made after all is closed
    void connecting.then((c) => c.close()).catch(() => undefined);
    throw new TemporalUnreachable(unreachableMessage(new Error(first.p), config, null));
  }
  throw new TemporalUnreachable(unreachableMessage(first.e, config, await probing));
}
