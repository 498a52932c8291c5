// The HTTP listener of GET /metrics (Prometheus text format). Plain node:http: one route, no
// framework. Any other path is 404; a collection that throws is a 500 with a redacted reason.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { redact } from '../activities/redact.js';
import { parseListen } from '../config/metrics-schema.js';
import { Client, Connection } from '@temporalio/client';
import type { Deps } from '../activities/deps.js';
import type { MetricsConfig } from '../config/metrics-schema.js';
import { connectionOptions, dataConverter } from '../config/temporal.js';
import { MetricsCollector } from './metrics.js';
import type { ServedQueues } from '../config/task-queues.js';

export async function startMetricsServer(
  collector: MetricsCollector,
  listen: string,
): Promise<{ server: Server; address: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res
        .writeHead(path === '/metrics' ? 405 : 404, { 'content-type': 'text/plain' })
        .end('osbackup worker: GET /metrics\n');
      return;
    }
    collector.scrape().then(
      (text) => res.writeHead(200, { 'content-type': collector.registry.contentType }).end(text),
      (e: unknown) =>
        res
          .writeHead(500, { 'content-type': 'text/plain' })
          .end(`collection failed: ${redact(e instanceof Error ? e.message : String(e))}\n`),
    );
  });
  const { host, port } = parseListen(listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  return {
    server,
    address: `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

export interface WorkerMetrics {
  address: string;
  close: () => Promise<void>;
}

/** The collector and its listener as the worker runs them; Temporal is connected on the first collection. */
export async function startWorkerMetrics(
  deps: Deps,
  settings: MetricsConfig,
  served: ServedQueues,
): Promise<WorkerMetrics> {
  let connection: Connection | undefined;
  let client: Client | undefined;
  const temporal = async () => {
    if (!client) {
      connection = await Connection.connect({ ...connectionOptions(deps.config), connectTimeout: '5 seconds' });
      client = new Client({
        connection,
        namespace: deps.config.temporal.namespace,
        dataConverter: dataConverter(deps.config),
      });
    }
    return client;
  };
  const collector = new MetricsCollector(deps, settings, temporal, undefined, served);
  let http;
  try {
    http = await startMetricsServer(collector, settings.listen);
  } catch (e) {
    throw new Error(
      `cannot listen on ${settings.listen} for /metrics (${(e as Error).message}). Fix: free that port or change metrics.listen in the config`,
    );
  }
  return {
    address: http.address,
    close: async () => {
      await http.close();
      await connection?.close();
    },
  };
}
