// Resolving secret references (file or env var) inside activities only.
import { readFile } from 'node:fs/promises';
import type { SecretRef } from '../config/schema.js';
import { fatal, FailureType } from './errors.js';
import { registerSecret } from './redact.js';

export async function resolveSecret(ref: SecretRef, what: string, env: NodeJS.ProcessEnv): Promise<string> {
  let value: string | undefined;
  if (ref.file) {
    try {
      value = (await readFile(ref.file, 'utf8')).replace(/\r?\n$/, '');
    } catch (e) {
      throw fatal(
        FailureType.SecretUnavailable,
        `${what}: secret file ${ref.file} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
        `create it (mode 0600) or point the config at the right file`,
      );
    }
  } else if (ref.env) {
    value = env[ref.env];
    if (value === undefined) {
      throw fatal(
        FailureType.SecretUnavailable,
        `${what}: environment variable ${ref.env} is not set in the worker`,
        `export ${ref.env} in the worker's environment`,
      );
    }
  }
  if (!value)
    throw fatal(
      FailureType.SecretUnavailable,
      `${what}: the secret is empty`,
      'put the secret in the referenced file or variable',
    );
  registerSecret(value);
  return value;
}
