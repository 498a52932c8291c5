// Connecting to Temporal over TLS, and failing to, as an operator meets it: a TLS endpoint
// (socat with a server certificate, asking for client certificates) in front of the lab's
// Temporal. The right CA and client pair connect; a wrong CA, a missing client certificate
// and TLS settings against a plain-text port each fail with exit 3 and a message that names
// the address, the setup in use and the likely cause — never a bare transport error.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { parse } from 'yaml';
import { cli, deriveConfig, labConfigPath } from '../helpers/lab.js';

const dir = mkdtempSync(join(tmpdir(), 'osb-tls-'));
const f = (n: string) => join(dir, n);
const PORT = 17233;
let socat: ResultPromise | undefined;
let plain = '';

async function openssl(args: string) {
  await execa('bash', ['-c', `cd ${dir} && ${args}`]);
}

/** A CA and a certificate it signs (EC P-256, valid a day). */
async function ca(name: string) {
  await openssl(
    `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=${name} -keyout ${name}.key -out ${name}.pem 2>/dev/null`,
  );
}
async function leaf(name: string, signer: string, ext: string) {
  await openssl(
    `openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=${name} -keyout ${name}.key -out ${name}.csr 2>/dev/null && ` +
      `printf '%s\\n' '${ext}' > ${name}.ext && ` +
      `openssl x509 -req -in ${name}.csr -CA ${signer}.pem -CAkey ${signer}.key -CAcreateserial -days 1 -extfile ${name}.ext -out ${name}.pem 2>/dev/null`,
  );
}

beforeAll(async () => {
  await ca('server-ca');
  await ca('client-ca');
  await ca('other-ca');
  await leaf('server', 'server-ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost');
  await leaf('client', 'client-ca', 'extendedKeyUsage=clientAuth');
  plain = (parse(readFileSync(labConfigPath(), 'utf8')) as { temporal: { address: string } }).temporal.address;
  socat = execa(
    'socat',
    [
      `OPENSSL-LISTEN:${PORT},bind=127.0.0.1,reuseaddr,fork,cert=${f('server.pem')},key=${f('server.key')},cafile=${f('client-ca.pem')},verify=1`,
      `TCP:${plain}`,
    ],
    { reject: false },
  );
  for (let i = 0; i < 50; i++) {
    const r = await execa('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${PORT}`], { reject: false });
    if (r.exitCode === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('socat did not listen');
});

afterAll(() => {
  socat?.kill();
});

const tlsConfig = (name: string, tls: Record<string, string> | undefined, address = `127.0.0.1:${PORT}`) =>
  deriveConfig(name, (c) => {
    c.temporal.address = address;
    if (tls) c.temporal.tls = tls;
  });

test('the right CA and client pair connect through the TLS endpoint', async () => {
  const cfg = tlsConfig('tls-ok', {
    serverRootCaFile: f('server-ca.pem'),
    clientCertFile: f('client.pem'),
    clientKeyFile: f('client.key'),
  });
  const r = await cli(cfg, ['temporal', 'setup']);
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  expect(r.stdout).toMatch(/nothing to change/);
});

test('a wrong CA: exit 3, the address, the CA in use and the fix', async () => {
  const cfg = tlsConfig('tls-wrong-ca', {
    serverRootCaFile: f('other-ca.pem'),
    clientCertFile: f('client.pem'),
    clientKeyFile: f('client.key'),
  });
  const r = await cli(cfg, ['temporal', 'setup']);
  expect(r.exitCode).toBe(3);
  expect(r.stderr).toContain(`cannot connect to Temporal at 127.0.0.1:${PORT}`);
  expect(r.stderr).toContain(`server CA ${f('other-ca.pem')}`);
  expect(r.stderr).toMatch(/Likely cause: the server's certificate is not signed by the CA this config trusts/);
});

test('no client certificate where the server asks for one: exit 3, named as such', async () => {
  const cfg = tlsConfig('tls-no-client', { serverRootCaFile: f('server-ca.pem') });
  const r = await cli(cfg, ['temporal', 'setup']);
  expect(r.exitCode).toBe(3);
  expect(r.stderr).toContain('no client certificate');
  expect(r.stderr).toMatch(/Likely cause: the server asks for a client certificate \(mutual TLS\)/);
});

test('TLS settings against the plain-text port: exit 3, named as such', async () => {
  const cfg = tlsConfig('tls-plain', { serverRootCaFile: f('server-ca.pem') }, plain);
  const r = await cli(cfg, ['temporal', 'setup']);
  expect(r.exitCode).toBe(3);
  expect(r.stderr).toMatch(/Likely cause: TLS was refused: the server may speak plain TCP/);
});

test('--json: the failure is one JSON object on stdout', async () => {
  const cfg = tlsConfig('tls-json', { serverRootCaFile: f('other-ca.pem') });
  const r = await cli(cfg, ['--json', 'temporal', 'setup']);
  expect(r.exitCode).toBe(3);
  const o = JSON.parse(r.stdout) as { error: string; exitCode: number };
  expect(o.exitCode).toBe(3);
  expect(o.error).toContain('cannot connect to Temporal');
});

test('an API key variable that is not set: a config error (exit 2) naming the variable, not "cannot reach"', async () => {
  const cfg = deriveConfig('tls-apikey', (c) => {
    c.temporal.apiKey = { env: 'OSB_TEST_UNSET_API_KEY' };
  });
  const r = await cli(cfg, ['temporal', 'setup']);
  expect(r.exitCode).toBe(2);
  expect(r.stderr).toContain('environment variable OSB_TEST_UNSET_API_KEY is not set');
  expect(r.stderr).not.toContain('cannot connect');
});
