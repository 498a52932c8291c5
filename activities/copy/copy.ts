// Copies one published artifact folder from one target to another. The sealed files are
// hashed while they stream and compared with the manifest (a source that went bad is never
// spread), re-read from the destination when the config asks for it, and the manifest is
// written last: until then the destination holds no backup, only garbage the next attempt
// clears.
import { performance } from 'node:perf_hooks';
import { Context } from '@temporalio/activity';
import { artifactDir, MANIFEST_FILE } from '../../core/manifest/manifest.js';
import { sealedFiles, type AnyManifest } from '../../core/manifest/any-manifest.js';
import { storedDigest } from '../../core/copy/plan.js';
import type { Env } from '../deps.js';
import { fatal, FailureType } from '../errors.js';
import { hashObject, scanTargetManifests, type TargetStore } from '../storage/target.js';

export interface CopyArtifactInput {
  cloud: string;
  component: string;
  id: string;
  from: string;
  to: string;
}

export interface CopyArtifactResult {
  id: string;
  copied: boolean;
  bytes: number;
  seconds: number;
}

async function readManifest(t: TargetStore, dir: string): Promise<AnyManifest | undefined> {
  const text = await t.readText(`${dir}/${MANIFEST_FILE}`);
  return text ? (JSON.parse(text) as AnyManifest) : undefined;
}

export async function copyArtifact(
  env: Env,
  input: CopyArtifactInput,
  verifyAfterWrite: boolean,
): Promise<CopyArtifactResult> {
  const { cloud, component, id } = input;
  const src = await env.target(input.from);
  const dst = await env.target(input.to);
  const dir = artifactDir(cloud, component, id);
  const signal = Context.current().cancellationSignal;
  const m = await readManifest(src, dir);
  if (!m)
    throw fatal(
      FailureType.ArtifactMissing,
      `${id} has no manifest on target "${src.name}"`,
      'list what the source holds with `osbackup catalog list --target ' + src.name + '`',
    );
  const already = await readManifest(dst, dir);
  if (already) {
    if (storedDigest(already) !== storedDigest(m))
      throw fatal(
        FailureType.ChecksumMismatch,
        `target "${dst.name}" holds ${id} with other bytes than "${src.name}"`,
        'run `osbackup verify` on both targets to find the good copy; nothing was overwritten',
      );
    return { id, copied: false, bytes: 0, seconds: 0 };
  }
  await dst.checkWritable();
  const t0 = performance.now();
  // a folder without a manifest is what a crashed attempt left: start it over
  const leftovers = await dst.list(`${dir}/`);
  if (leftovers.length) await dst.deleteKeys(leftovers.map((o) => o.key));

  const sealed = new Map(sealedFiles(m).map((f) => [f.rel, f]));
  const files = (await src.list(`${dir}/`)).filter(
    (o) => o.key !== `${dir}/${MANIFEST_FILE}` && !o.key.startsWith(`${dir}/checks/`),
  );
  for (const rel of sealed.keys()) {
    if (!files.some((f) => f.key === rel))
      throw fatal(
        FailureType.ArtifactMissing,
        `${rel} is missing on target "${src.name}"`,
        'run `osbackup verify --target ' + src.name + '`; copy from another target that holds it',
      );
  }
  let total = 0;
  const written: string[] = [];
  const fail = async (e: unknown): Promise<never> => {
    await dst.deleteKeys(written).catch(() => undefined);
    throw e;
  };
  for (const f of files) {
    const expected = sealed.get(f.key);
    let sent = 0;
    const beat = setInterval(() => Context.current().heartbeat({ file: f.key, bytes: total + sent }), 5000);
    try {
      const body = await src.openRead(f.key, signal);
      written.push(f.key);
      const got = await dst.putStream(f.key, body, { bytes: f.bytes, signal, onProgress: (b) => (sent = b) });
      if (expected && (got.sha256 !== expected.sha256 || got.bytes !== expected.bytes)) {
        await fail(
          fatal(
            FailureType.ChecksumMismatch,
            `${f.key} on target "${src.name}" reads as ${got.sha256} (${got.bytes} bytes) but its manifest says ${expected.sha256} (${expected.bytes} bytes): the source copy is damaged`,
            `nothing was published on "${dst.name}"; run \`osbackup verify --target ${src.name}\` and copy from a good target`,
          ),
        );
      }
      total += got.bytes;
    } catch (e) {
      await fail(e);
    } finally {
      clearInterval(beat);
    }
  }
  if (verifyAfterWrite) {
    for (const f of sealed.values()) {
      const back = await hashObject(dst, f.rel, (b) => Context.current().heartbeat({ file: f.rel, reread: b }), signal);
      if (back.sha256 !== f.sha256 || back.bytes !== f.bytes) {
        await fail(
          fatal(
            FailureType.ChecksumMismatch,
            `${f.rel} reads back from target "${dst.name}" as ${back.sha256} (${back.bytes} bytes), written as ${f.sha256}`,
            `the store returned other bytes; check "${dst.name}" and copy again`,
          ),
        );
      }
    }
  }
  await dst.putText(`${dir}/${MANIFEST_FILE}`, JSON.stringify(m, null, 2) + '\n');
  return { id, copied: true, bytes: total, seconds: (performance.now() - t0) / 1000 };
}

/** The manifests of a cloud on a target (for the copy planner and retention). */
export async function targetManifests(env: Env, name: string, cloud: string): Promise<AnyManifest[]> {
  return (await scanTargetManifests(await env.target(name), cloud)).map((x) => x.manifest);
}
