// `npm run bench:fanout`: only the Cinder snapshot fan-out case (needs the lab's OpenStack,
// LAB_OPENSTACK=1); its section of bench/results.md is replaced, the rest left as it is.
// Knobs: BENCH_VOLUMES (120), BENCH_VOLUME_CONCURRENCY (8, the config's default), BENCH_OUT.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { renderVolumeFanout, volumeFanoutCase, withVolumeFanout } from './cases/volume-fanout.js';
import { log } from './lib/stats.js';

const num = (v: string | undefined, d: number) => (v === undefined || v === '' ? d : Number(v));
const OUT = resolve(process.env.BENCH_OUT ?? 'bench/results.md');

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const r = await volumeFanoutCase(num(process.env.BENCH_VOLUMES, 120), num(process.env.BENCH_VOLUME_CONCURRENCY, 8));
  const md = existsSync(OUT) ? readFileSync(OUT, 'utf8') : '# osbackup benchmarks\n';
  writeFileSync(OUT, withVolumeFanout(md, renderVolumeFanout(r, new Date().toISOString())));
  log(`wrote ${OUT}: ${JSON.stringify(r)}`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
