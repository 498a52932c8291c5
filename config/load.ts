// Reading and validating the config file. A bad file yields *every* bad path with its
// reason, so an operator fixes it in one pass.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { configSchema, crossReferenceProblems, type Config } from './schema.js';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: { path: string; message: string }[],
    headline = `${file}: invalid configuration`,
  ) {
    super(`${headline}\n` + problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}

export function parseConfig(text: string, file = '<config>'): Config {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({
        path: `line ${e.linePos?.[0]?.line ?? '?'}`,
        message: e.message.split('\n')[0] ?? e.message,
      })),
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  const result = configSchema.safeParse(raw);
  const problems = [
    ...(result.success
      ? []
      : result.error.issues.map((i) => ({
          path: i.path.length ? i.path.join('.') : '(top level)',
          message: i.message,
        }))),
    ...crossReferenceProblems(raw),
  ];
  if (problems.length > 0 || !result.success) throw new ConfigError(file, problems);
  return result.data;
}

export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, [
      {
        path: '(file)',
        message: `cannot be read (${resolve(file)}): ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : ((e as NodeJS.ErrnoException).code ?? String(e))}`,
      },
    ]);
  }
  return parseConfig(text, file);
}

/** Where a config is looked for when neither --config nor $OSBACKUP_CONFIG names one, in order. */
export const CONFIG_SEARCH_PATH = ['osbackup.yml', '/etc/osbackup/osbackup.yml'];

/**
 * The config file to use: --config, then $OSBACKUP_CONFIG (both taken as given: a wrong name is
 * an error about that name), then the first of CONFIG_SEARCH_PATH that exists. None there: an
 * error that lists every place looked at.
 */
export function configPath(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return explicit;
  if (env.OSBACKUP_CONFIG) return env.OSBACKUP_CONFIG;
  const found = CONFIG_SEARCH_PATH.find((p) => existsSync(p));
  if (found) return found;
  throw new ConfigError(
    '',
    [
      {
        path: '(file)',
        message: `no config found: --config not given, $OSBACKUP_CONFIG not set, and none of ${CONFIG_SEARCH_PATH.map((p) => resolve(p)).join(', ')} exists. Fix: pass --config <file>, set OSBACKUP_CONFIG, or copy osbackup.example.yml (shipped with osbackup) to /etc/osbackup/osbackup.yml and edit it`,
      },
    ],
    'no configuration file',
  );
}
