// Bundles the workflow code once, at build time. Bundling inside the worker costs ~150 MiB of
// peak memory (webpack) and seconds of start-up on every start; a prebuilt bundle costs neither.
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../config/temporal.js';

export const WORKFLOWS_DIR = fileURLToPath(new URL('../workflows/', import.meta.url));
export const WORKFLOWS_PATH = join(WORKFLOWS_DIR, 'index.js');
/** The pure modules the workflows import: part of the bundle too. */
export const CORE_DIR = fileURLToPath(new URL('../core/', import.meta.url));
export const BUNDLE_PATH = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** The prebuilt bundle when it is newer than every compiled workflow and core file and the failure converter, else undefined. */
export function freshBundle(): string | undefined {
  try {
    return statSync(BUNDLE_PATH).mtimeMs >=
      Math.max(newestMtime(WORKFLOWS_DIR), newestMtime(CORE_DIR), statSync(FAILURE_CONVERTER_PATH).mtimeMs)
      ? BUNDLE_PATH
      : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: {
      log: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: console.warn,
      error: console.error,
    },
  });
  writeFileSync(BUNDLE_PATH, code);
  console.log(`workflow bundle: ${BUNDLE_PATH} (${(code.length / 1024).toFixed(0)} KiB)`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
