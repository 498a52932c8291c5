// When a connection to Temporal fails, the SDK says little ("Failed to connect before the
// deadline"): the TLS handshake's own error is retried away. One plain TLS (or TCP) handshake
// with the same settings recovers it — an unknown CA, a demanded client certificate, TLS
// against a plain-text port — so the message can name the cause.
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';

const read = (f?: string) => {
  try {
    return f ? readFileSync(f) : undefined;
  } catch {
    return undefined;
  }
};

/** What one handshake with the config's transport settings says; null when it succeeds. */
export function probeTransport(config: Config, timeoutMs = 5000): Promise<string | null> {
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
    socket.on('error', (e: NodeJS.ErrnoException) => done(`${e.code ? `${e.code}: ` : ''}${e.message}`));
    // TLS 1.3: a server that refuses the client's certificate says so after the handshake
    // completes on the client side, in its first record; wait for it briefly
    socket.on(useTls ? 'secureConnect' : 'connect', () => setTimeout(() => done(null), 500));
  });
}
