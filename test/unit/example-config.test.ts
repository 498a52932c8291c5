// osbackup.example.yml, the file operators copy to /etc/osbackup/osbackup.yml, stays valid and
// complete: it parses, `config check` finds every file and variable it names (created in a
// temporary folder standing in for /etc/osbackup), and it has every section the schema knows.
import { existsSync, mkdirSync, mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { parseConfig } from '../../config/load.js';
import { configSchema } from '../../config/schema.js';
import { checkConfigResources } from '../../client/config-check.js';

const EXAMPLE = 'osbackup.example.yml';
const example = readFileSync(EXAMPLE, 'utf8');

/** Every `{ env: NAME }` secret reference in a parsed document (not other `env` maps, e.g. rabbitmq's). */
function envRefs(v: unknown): string[] {
  if (Array.isArray(v)) return v.flatMap(envRefs);
  if (typeof v !== 'object' || v === null) return [];
  const keys = Object.keys(v);
  const env = (v as { env?: unknown }).env;
  if (keys.length === 1 && typeof env === 'string') return [env];
  return Object.values(v).flatMap(envRefs);
}

/** Every string value in a parsed document. */
function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (typeof v !== 'object' || v === null) return [];
  return Object.values(v).flatMap(strings);
}

interface Installed {
  dir: string;
  text: string;
  files: string[];
  env: NodeJS.ProcessEnv;
}

/** The example with /etc/osbackup/ moved to a fresh folder holding every file it names there. */
async function install(): Promise<Installed> {
  const dir = mkdtempSync(join(tmpdir(), 'osbackup-example-'));
  const text = example.replaceAll('/etc/osbackup/', `${dir}/`);
  // the values, not the comments (which name files such as osbackup.yml itself)
  const files = [...new Set(strings(parse(text)).filter((s) => s.startsWith(`${dir}/`)))];
  for (const f of files) mkdirSync(dirname(f), { recursive: true, mode: 0o700 });
  // the Temporal TLS files: a real self-signed pair, the certificate doubling as the server CA
  const pem = files.find((f) => basename(f) === 'client.pem');
  const key = files.find((f) => basename(f) === 'client.key');
  if (pem && key)
    await execa('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=temporal',
      '-keyout',
      key,
      '-out',
      pem,
    ]);
  for (const f of files) {
    if (f === pem || f === key) continue;
    const content = /^payload.*\.key$/.test(basename(f))
      ? randomBytes(32).toString('hex')
      : basename(f) === 'ca.pem' && pem
        ? readFileSync(pem, 'utf8')
        : `not empty: ${basename(f)}\n`;
    writeFileSync(f, content, { mode: 0o600 });
  }
  const env: NodeJS.ProcessEnv = Object.fromEntries(envRefs(parse(text)).map((name) => [name, `value of ${name}`]));
  return { dir, text, files, env };
}

const installed: Installed[] = [];
afterAll(() => {
  for (const i of installed) rmSync(i.dir, { recursive: true, force: true });
});

describe('osbackup.example.yml', () => {
  test('parses, and config check finds every file and variable it names', async () => {
    const i = await install();
    installed.push(i);
    expect(example).not.toContain(i.dir);
    expect(i.files.map((f) => basename(f))).toEqual(
      expect.arrayContaining(['payload-2026-05.key', 'ca.pem', 'client.pem', 'client.key', 'passphrase', 'id_ed25519']),
    );
    expect(Object.keys(i.env).length).toBeGreaterThan(0);
    for (const f of i.files) expect(existsSync(f)).toBe(true);
    const config = parseConfig(i.text, EXAMPLE);
    expect(config.temporal.payloadKeys).toEqual([{ id: '2026-05', key: { file: join(i.dir, 'payload-2026-05.key') } }]);
    expect(config.temporal.tls).toEqual(
      expect.objectContaining({
        serverRootCaFile: join(i.dir, 'ca.pem'),
        clientCertFile: join(i.dir, 'client.pem'),
        clientKeyFile: join(i.dir, 'client.key'),
      }),
    );
    expect(await checkConfigResources(config, i.env)).toEqual([]);
  });

  test('without the payload key file, config check reports that key of temporal.payloadKeys', async () => {
    const i = await install();
    installed.push(i);
    rmSync(join(i.dir, 'payload-2026-05.key'));
    const problems = await checkConfigResources(parseConfig(i.text, EXAMPLE), i.env);
    expect(problems.map((p) => p.path)).toEqual(['temporal.payloadKeys.0.key']);
  });

  test('has every top-level section and every cloud section the schema accepts', () => {
    const raw = parse(example) as Record<string, unknown> & { clouds: Record<string, Record<string, unknown>> };
    const topKeys = Object.keys(configSchema.shape);
    const cloudKeys = Object.keys(configSchema.shape.clouds.valueType.shape);
    expect(topKeys).toContain('clouds');
    expect(cloudKeys).toContain('database');
    expect(topKeys.filter((k) => !(k in raw))).toEqual([]);
    expect(Object.keys(raw.clouds).length).toBeGreaterThan(0);
    for (const [name, cloud] of Object.entries(raw.clouds))
      expect({ cloud: name, missing: cloudKeys.filter((k) => !(k in cloud)) }).toEqual({ cloud: name, missing: [] });
  });
});
