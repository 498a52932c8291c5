// The programs the worker spawns. A missing one would otherwise surface as an activity failure
// in the middle of the first backup; the worker names it at start instead.
import { execa } from 'execa';

interface Tool {
  bin: string;
  args: string[];
  /** The Debian/Ubuntu package that provides it. */
  pkg: string;
  /** What it is needed for; absent: every backup and restore. */
  onlyFor?: string;
}

const TOOLS: Tool[] = [
  { bin: 'gpg', args: ['--version'], pkg: 'gnupg' },
  { bin: 'gpgconf', args: ['--version'], pkg: 'gnupg' },
  { bin: 'zstd', args: ['--version'], pkg: 'zstd' },
  { bin: 'gzip', args: ['--version'], pkg: 'gzip', onlyFor: 'importing the cron + bash backups (osbackup import)' },
  {
    bin: 'openssl',
    args: ['version'],
    pkg: 'openssl',
    onlyFor: 'importing openssl-encrypted backups (osbackup import)',
  },
];

/** Which tools are not on PATH: `missing` stops the worker, `warnings` only narrow what it can do. */
export async function checkHostTools(path = process.env.PATH): Promise<{ missing: string[]; warnings: string[] }> {
  const found = await Promise.all(
    TOOLS.map(async (t) => {
      const r = await execa(t.bin, t.args, { reject: false, env: { PATH: path ?? '' } });
      if (!r.failed) return null;
      const why = (r as { code?: string }).code === 'ENOENT' ? 'is not on PATH' : `does not run (${r.shortMessage})`;
      return t.onlyFor
        ? {
            kind: 'warning' as const,
            text: `${t.bin} ${why}: needed only for ${t.onlyFor}. Fix: install the ${t.pkg} package`,
          }
        : {
            kind: 'missing' as const,
            text: `${t.bin} ${why}: every backup and restore needs it. Fix: install the ${t.pkg} package`,
          };
    }),
  );
  // in the order of TOOLS, whatever order the checks finished in
  return {
    missing: found.flatMap((f) => (f?.kind === 'missing' ? [f.text] : [])),
    warnings: found.flatMap((f) => (f?.kind === 'warning' ? [f.text] : [])),
  };
}
