// Reading and validating the config file. A bad file yields *every* bad path with its
// reason, so an operator fixes it in one pass.
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { configSchema, crossReferenceProblems, type Config } from './schema.js';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: { path: string; message: string }[],
  ) {
    super(`${file}: invalid configuration\n` + problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n'));
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
      { path: '(file)', message: `cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}` },
    ]);
  }
  return parseConfig(text, file);
}

/** The config file to use: --config, then $OSBACKUP_CONFIG, then ./osbackup.yml. */
export function configPath(explicit?: string): string {
  return explicit ?? process.env.OSBACKUP_CONFIG ?? 'osbackup.yml';
}
