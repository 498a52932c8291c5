// Backing up and restoring each control-plane part. Plaintext stays in memory (see sealed.ts);
// the staged files are sealed before they touch the repository's disk.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import { extract } from 'tar-stream';
import {
  diffTrees,
  isSecretPath,
  partFile,
  type ControlPlaneManifest,
  type ControlPlanePart,
  type TreeChange,
} from '../../core/control-plane/control-plane.js';
import { artifactDir } from '../../core/manifest/manifest.js';
import {
  diffDefinitions,
  parseDefinitions,
  summarizeDefinitions,
  type DefinitionDifference,
} from '../../core/control-plane/rabbitmq-definitions.js';
import type { Env } from '../deps.js';
import { fatal, FailureType, transient } from '../errors.js';
import { cancellationSignal } from '../heartbeat.js';
import { classifyRabbitmqError } from '../rabbitmq/classify.js';
import { exportDefinitionsScript, importDefinitionsScript } from '../rabbitmq/commands.js';
import { inServiceContext } from '../ssh/quote.js';
import {
  archiveAllScript,
  archiveScript,
  extractScript,
  installKeysScript,
  parseInstalledKeys,
  ScriptExit,
} from './scripts.js';
import { indexTar, MAX_PLAIN_BYTES, sealBuffer, unsealFile } from './sealed.js';

function controlPlane(env: Env, cloud: string) {
  const cp = env.cloud(cloud).controlPlane;
  if (!cp)
    throw fatal(
      FailureType.ConfigInvalid,
      `cloud ${cloud} has no controlPlane section`,
      `add clouds.${cloud}.controlPlane (kolla.host, keystoneHosts) to the config`,
    );
  return cp;
}

/** Runs a remote script and returns its stdout bytes (and stderr); a failure names the host, the step and the cause. */
async function captureWithStderr(
  env: Env,
  cloud: string,
  hostName: string,
  what: string,
  script: string,
  stdin?: Buffer,
): Promise<{ raw: Buffer; stderr: string }> {
  const { target } = env.host(cloud, hostName);
  const r = await env.deps.ssh.run(target, script, { stdin, signal: cancellationSignal(), maxBytes: MAX_PLAIN_BYTES });
  if (r.truncated)
    throw fatal(
      FailureType.RemoteCommandFailed,
      `${hostName}: ${what} produced more than ${MAX_PLAIN_BYTES} bytes`,
      'control-plane parts are configuration-sized: narrow the configured paths',
    );
  if (r.code !== 0) {
    const why = r.stderr.trim().split('\n').slice(-3).join(' | ') || `exit ${r.code}`;
    if (r.code === ScriptExit.noFolder || r.code === ScriptExit.nothingToArchive)
      throw fatal(
        FailureType.ConfigInvalid,
        `${hostName}: ${what}: ${why}`,
        'check the configured folder and paths for this host',
      );
    if (/No such container|is not running/i.test(r.stderr))
      throw transient(
        FailureType.RemoteCommandFailed,
        `${hostName}: ${what}: ${why}`,
        'start the container (docker start <name>) or fix the container name in the config',
      );
    throw transient(
      FailureType.RemoteCommandFailed,
      `${hostName}: ${what} failed: ${why}`,
      'check the host; the step is retried',
    );
  }
  return { raw: r.raw, stderr: r.stderr };
}

async function capture(
  env: Env,
  cloud: string,
  hostName: string,
  what: string,
  script: string,
  stdin?: Buffer,
): Promise<Buffer> {
  return (await captureWithStderr(env, cloud, hostName, what, script, stdin)).raw;
}

async function seal(env: Env, cloud: string, stagingDir: string, file: string, plain: Buffer) {
  const keys = await env.gpgKeys();
  const path = join(stagingDir, file);
  await rm(path, { force: true }); // an earlier attempt's partial file
  return sealBuffer(keys, controlPlane(env, cloud).compressionLevel, plain, path, cancellationSignal());
}

export async function backupKollaConfig(
  env: Env,
  cloud: string,
  stagingDir: string,
  from?: { host: string; dir: string },
): Promise<ControlPlanePart & { missing: string[] }> {
  const k = controlPlane(env, cloud).kolla;
  if (!k && !from)
    throw fatal(
      FailureType.ConfigInvalid,
      `cloud ${cloud} has no controlPlane.kolla section`,
      `add clouds.${cloud}.controlPlane.kolla.host (the deploy host)`,
    );
  const hostName = from?.host ?? k!.host;
  const dir = from?.dir ?? k!.configDir;
  // the deploy tree is the host's own /etc/kolla, never a container's
  const script = from ? archiveAllScript(dir) : archiveScript(dir, [...k!.files, ...k!.serviceDirs]);
  const { raw: tar, stderr } = await captureWithStderr(env, cloud, hostName, `archiving ${dir}`, script);
  const missing = [...stderr.matchAll(/osbackup: missing (.*)/g)].map((m) => m[1]!);
  const entries = await indexTar(tar);
  const file = partFile('kolla-config', hostName);
  const s = await seal(env, cloud, stagingDir, file, tar);
  return {
    name: `kolla config of ${hostName}:${dir}`,
    kind: 'kolla-config',
    host: hostName,
    source: dir,
    file,
    ...s,
    format: 'tar',
    entries,
    missing,
  };
}

export async function backupKeystoneKeys(
  env: Env,
  cloud: string,
  hostName: string,
  stagingDir: string,
): Promise<ControlPlanePart> {
  const { host } = env.host(cloud, hostName);
  const ks = host.keystone;
  if (!ks)
    throw fatal(
      FailureType.ConfigInvalid,
      `host ${hostName} has no keystone section`,
      `add clouds.${cloud}.hosts.${hostName}.keystone`,
    );
  const tar = await capture(
    env,
    cloud,
    hostName,
    `archiving the keys in ${ks.keysDir}`,
    inServiceContext(host, ks.container, archiveScript(ks.keysDir, ['fernet-keys', 'credential-keys'])),
  );
  const entries = await indexTar(tar);
  if (!entries.some((e) => e.type === 'file' && e.path.startsWith('fernet-keys/')))
    throw fatal(
      FailureType.RemoteCommandFailed,
      `${hostName}: no Fernet keys under ${ks.keysDir}/fernet-keys`,
      'check hosts.<host>.keystone.keysDir (and the container name on Kolla hosts)',
    );
  const file = partFile('keystone-keys', hostName);
  const s = await seal(env, cloud, stagingDir, file, tar);
  const source = host.containerRuntime === 'none' ? ks.keysDir : `${ks.container}:${ks.keysDir}`;
  return {
    name: `keystone keys of ${hostName}`,
    kind: 'keystone-keys',
    host: hostName,
    source,
    file,
    ...s,
    format: 'tar',
    entries,
  };
}

export async function backupRabbitmq(env: Env, cloud: string, stagingDir: string): Promise<ControlPlanePart> {
  const rq = env.cloud(cloud).rabbitmq;
  if (!rq)
    throw fatal(
      FailureType.ConfigInvalid,
      `cloud ${cloud} has no rabbitmq section`,
      `add clouds.${cloud}.rabbitmq.host`,
    );
  const { host, target } = env.host(cloud, rq.host);
  const r = await env.deps.ssh.run(target, exportDefinitionsScript(host), {
    signal: cancellationSignal(),
    maxBytes: MAX_PLAIN_BYTES,
  });
  if (r.code !== 0) throw classifyRabbitmqError(rq.host, 'export_definitions', r.code, r.stderr);
  let summary: Record<string, number>;
  try {
    summary = summarizeDefinitions(parseDefinitions(r.stdout));
  } catch (e) {
    throw transient(
      FailureType.RabbitmqCommandFailed,
      `${rq.host}: export_definitions returned something that is not a definitions document (${(e as Error).message})`,
      'check the broker; the step is retried',
    );
  }
  const file = partFile('rabbitmq-definitions', rq.host);
  const s = await seal(env, cloud, stagingDir, file, r.raw);
  const source =
    host.containerRuntime === 'none' ? 'rabbitmqctl' : `${host.rabbitmq?.container ?? 'rabbitmq'}:rabbitmqctl`;
  return {
    name: `rabbitmq definitions from ${rq.host}`,
    kind: 'rabbitmq-definitions',
    host: rq.host,
    source,
    file,
    ...s,
    format: 'json',
    summary,
  };
}

// ---- restore side ----

export async function readControlPlane(env: Env, cloud: string, backupId?: string): Promise<ControlPlaneManifest> {
  const all = (await env.repo.scanManifests(cloud)).filter(
    (m): m is ControlPlaneManifest => m.component === 'control-plane',
  );
  const m = backupId ? all.find((x) => x.id === backupId) : all.filter((x) => x.reason === 'backup').at(-1);
  if (!m)
    throw fatal(
      FailureType.BackupNotFound,
      backupId
        ? `control-plane backup ${backupId} is not in the repository`
        : `no control-plane backup of ${cloud} in the repository`,
      'list them with `osbackup catalog list`, or take one with `osbackup backup control-plane`',
    );
  return m;
}

function pickPart(m: ControlPlaneManifest, kind: ControlPlanePart['kind'], host?: string): ControlPlanePart {
  const parts = m.parts.filter((p) => p.kind === kind);
  const p = host ? parts.find((x) => x.host === host) : parts[0];
  if (!p)
    throw fatal(
      FailureType.BackupNotFound,
      `control-plane backup ${m.id} has no ${kind} part${host ? ` from ${host}` : ''} (it has: ${m.parts.map((x) => `${x.kind}@${x.host}`).join(', ')})`,
      'choose another backup or another source host',
    );
  return p;
}

async function openPart(env: Env, m: ControlPlaneManifest, p: ControlPlanePart): Promise<Buffer> {
  const keys = await env.gpgKeys();
  const file = env.repo.path(join(artifactDir(m.cloud, 'control-plane', m.id), p.file));
  return unsealFile(
    keys,
    file,
    { sha256: p.sha256, bytes: p.bytes, plainSha256: p.plainSha256, encryption: m.encryption },
    `${p.name} in ${m.id}`,
    cancellationSignal(),
  );
}

/** The key set to restore: the named host's, or — when all hosts agreed — any. */
export async function restoreKeystoneKeys(
  env: Env,
  cloud: string,
  backupId: string,
  fromHost: string | undefined,
  toHost: string,
) {
  const m = await readControlPlane(env, cloud, backupId);
  if (!fromHost && m.keystone && !m.keystone.consistent) {
    throw fatal(
      FailureType.ConfigInvalid,
      `control-plane backup ${m.id} recorded diverged keys (${m.keystone.differences.join('; ')}): which host's keys to restore is a decision`,
      `name the source host (--from <host>, one of ${m.parts
        .filter((p) => p.kind === 'keystone-keys')
        .map((p) => p.host)
        .join(', ')})`,
    );
  }
  const p = pickPart(m, 'keystone-keys', fromHost);
  const tar = await openPart(env, m, p);
  const { host } = env.host(cloud, toHost);
  const ks = host.keystone;
  if (!ks)
    throw fatal(
      FailureType.ConfigInvalid,
      `host ${toHost} has no keystone section`,
      `add clouds.${cloud}.hosts.${toHost}.keystone`,
    );
  const expected = (p.entries ?? []).filter((e) => e.type === 'file').map((e) => ({ path: e.path, sha256: e.sha256! }));
  const out = await capture(
    env,
    cloud,
    toHost,
    'installing the keys',
    inServiceContext(host, ks.container, installKeysScript(ks.keysDir, expected, ks.owner, m.id), { user: '0' }),
    tar,
  );
  const installed = parseInstalledKeys(out.toString('utf8'));
  const wrong = expected.filter((e) => installed.get(e.path)?.sha256 !== e.sha256).map((e) => e.path);
  const extra = [...installed.keys()].filter((k) => !expected.some((e) => e.path === k));
  if (wrong.length || extra.length)
    throw fatal(
      FailureType.VerificationFailed,
      `${toHost}: after the restore the keys differ from the backup (${[...wrong.map((w) => `${w} differs`), ...extra.map((x) => `${x} extra`)].join(', ')})`,
      'check the host (disk, permissions) and run the restore again',
    );
  const files = [...installed.entries()].map(([path, v]) => ({ path, sha256: v.sha256, mode: v.mode, owner: v.owner }));
  return { host: toHost, fromHost: p.host, files };
}

/** Both trees, indexed, with the content of the non-secret files that differ. */
export async function diffKollaConfig(
  env: Env,
  cloud: string,
  backupId: string | undefined,
  targetHost: string,
  targetPath: string,
) {
  const m = await readControlPlane(env, cloud, backupId);
  const p = pickPart(m, 'kolla-config');
  const backupTar = await openPart(env, m, p);
  const currentTar = await capture(env, cloud, targetHost, `reading ${targetPath}`, archiveAllScript(targetPath));
  const current = await indexTar(currentTar);
  const changes = diffTrees(p.entries ?? [], current);
  const secrets = env.cloud(cloud).controlPlane?.kolla?.secretPaths ?? [];
  const textFor = changes.filter((c) => c.change === 'content' && !isSecretPath(c.path, secrets)).map((c) => c.path);
  const [a, b] = await Promise.all([contents(backupTar, textFor), contents(currentTar, textFor)]);
  const patches = textFor
    .filter((f) => isText(a.get(f)) && isText(b.get(f)))
    .map((f) => ({
      path: f,
      patch: createTwoFilesPatch(
        `${targetHost}:${targetPath}/${f}`,
        `${m.id}/${f}`,
        b.get(f)!.toString('utf8'),
        a.get(f)!.toString('utf8'),
      ),
    }));
  const marked = changes.map((c): TreeChange & { secret: boolean } => ({
    ...c,
    secret: isSecretPath(c.path, secrets),
  }));
  return {
    backupId: m.id,
    targetHost,
    targetPath,
    targetEmpty: current.filter((e) => e.path !== '.').length === 0,
    changes: marked,
    patches,
  };
}

const isText = (b: Buffer | undefined) => b !== undefined && b.length < 1024 * 1024 && !b.includes(0);

async function contents(tar: Buffer, paths: string[]): Promise<Map<string, Buffer>> {
  const want = new Set(paths);
  const out = new Map<string, Buffer>();
  const ex = extract();
  const done = (async () => {
    for await (const entry of ex) {
      const name = entry.header.name.replace(/^\.\//, '');
      const chunks: Buffer[] = [];
      for await (const c of entry) if (want.has(name)) chunks.push(c as Buffer);
      if (want.has(name)) out.set(name, Buffer.concat(chunks));
    }
  })();
  ex.end(tar);
  await done;
  return out;
}

/** Unpacks the backup's tree into targetPath, then reads it back and compares with the manifest. */
export async function restoreKollaConfig(
  env: Env,
  cloud: string,
  backupId: string,
  targetHost: string,
  targetPath: string,
) {
  const m = await readControlPlane(env, cloud, backupId);
  const p = pickPart(m, 'kolla-config');
  const tar = await openPart(env, m, p);
  await capture(env, cloud, targetHost, `unpacking into ${targetPath}`, extractScript(targetPath), tar);
  const after = await indexTar(
    await capture(env, cloud, targetHost, `reading ${targetPath} back`, archiveAllScript(targetPath)),
  );
  const left = diffTrees(p.entries ?? [], after).filter((c) => c.change !== 'removed');
  if (left.length)
    throw fatal(
      FailureType.VerificationFailed,
      `${targetHost}:${targetPath} differs from the backup after the restore: ${left
        .slice(0, 5)
        .map((c) => `${c.path} (${c.change} ${c.detail})`)
        .join('; ')}`,
      'check free space and permissions on the target, then restore again',
    );
  return {
    files: after.filter((e) => e.type === 'file').length,
    kept: diffTrees(p.entries ?? [], after)
      .filter((c) => c.change === 'removed')
      .map((c) => c.path),
  };
}

export async function restoreRabbitmq(
  env: Env,
  cloud: string,
  backupId: string,
  targetHost: string,
): Promise<{ differences: DefinitionDifference[]; summary: Record<string, number> }> {
  const m = await readControlPlane(env, cloud, backupId);
  const p = pickPart(m, 'rabbitmq-definitions');
  const json = await openPart(env, m, p);
  const { host, target } = env.host(cloud, targetHost);
  const imp = await env.deps.ssh.run(target, importDefinitionsScript(host, { sha256: p.plainSha256 }), {
    stdin: json,
    signal: cancellationSignal(),
  });
  if (imp.code !== 0) throw classifyRabbitmqError(targetHost, 'import_definitions', imp.code, imp.stderr);
  const exp = await env.deps.ssh.run(target, exportDefinitionsScript(host), {
    signal: cancellationSignal(),
    maxBytes: MAX_PLAIN_BYTES,
  });
  if (exp.code !== 0)
    throw classifyRabbitmqError(targetHost, 'export_definitions (check after import)', exp.code, exp.stderr);
  const source = parseDefinitions(json.toString('utf8'));
  const differences = diffDefinitions(source, parseDefinitions(exp.stdout));
  return { differences, summary: summarizeDefinitions(source) };
}
