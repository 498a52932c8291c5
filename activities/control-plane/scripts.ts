// The remote side of control-plane backups and restores, as POSIX sh run over SSH (inside the
// service's container on Kolla hosts). Archives keep numeric owners and modes: `docker cp`
// loses ownership, tar streaming does not.
import { shQuote } from '../ssh/quote.js';

/** Exit codes the scripts use to say what is wrong, so errors can name the cause. */
export const ScriptExit = { noFolder: 81, nothingToArchive: 82, verifyFailed: 83 } as const;

/** tar of the listed paths under `dir` (relative names), skipping missing ones (named on stderr). */
export function archiveScript(dir: string, paths: string[]): string {
  return [
    `cd ${shQuote(dir)} 2>/dev/null || { echo "osbackup: folder ${dir} does not exist" >&2; exit ${ScriptExit.noFolder}; }`,
    'set --',
    `for p in ${paths.map(shQuote).join(' ')}; do if [ -e "$p" ] || [ -L "$p" ]; then set -- "$@" "$p"; else echo "osbackup: missing $p" >&2; fi; done`,
    `[ $# -gt 0 ] || { echo "osbackup: none of the paths exist under ${dir}" >&2; exit ${ScriptExit.nothingToArchive}; }`,
    'exec tar -c --numeric-owner -f - "$@"',
  ].join('\n');
}

/** tar of a whole folder's content (for diffs and the safety copy); an absent folder is an empty tar. */
export function archiveAllScript(dir: string): string {
  return `if [ -d ${shQuote(dir)} ]; then cd ${shQuote(dir)} && exec tar -c --numeric-owner -f - .; else exec tar -c -f - -T /dev/null; fi`;
}

/** Unpacks a tar from stdin into `dir`, keeping numeric owners and modes. */
export function extractScript(dir: string): string {
  return `set -e\nmkdir -p ${shQuote(dir)}\nexec tar -x --numeric-owner --same-owner -p -f - -C ${shQuote(dir)}`;
}

/**
 * Puts a key set in place: unpack into a stage folder beside the keys, check every file's
 * SHA-256, then move each key over its old one with rename(2) (atomic per file, also when the
 * key folder is a volume mount point that cannot itself be swapped), drop keys that are not in
 * the set, set owner and 0600/0700, and print the result's hashes.
 */
export function installKeysScript(
  keysDir: string,
  expected: { path: string; sha256: string }[],
  owner: string | undefined,
  tag: string,
): string {
  const k = shQuote(keysDir);
  const stage = `${keysDir}/.osbackup-stage-${tag}`;
  const st = shQuote(stage);
  const dirs = [...new Set(expected.map((e) => e.path.split('/')[0]!))];
  const sums = expected.map((e) => `${e.sha256}  ${e.path}`).join('\n');
  return [
    'set -eu',
    `umask 077; mkdir -p ${k}; rm -rf ${st}; mkdir -m 700 ${st}`,
    `trap 'rm -rf ${st}' EXIT`,
    `tar -x --numeric-owner --same-owner -p -f - -C ${st}`,
    `cd ${st} && printf '%s\\n' ${shQuote(sums)} | sha256sum -c --quiet - >&2 || { echo "osbackup: staged keys do not match the backup" >&2; exit ${ScriptExit.verifyFailed}; }`,
    ...dirs.map((d) => {
      const dst = shQuote(`${keysDir}/${d}`);
      const names = expected.filter((e) => e.path.startsWith(`${d}/`)).map((e) => e.path.slice(d.length + 1));
      return [
        `mkdir -p ${dst}`,
        `for f in ${names.map(shQuote).join(' ')}; do cp -p ${st}/${d}/"$f" ${dst}/".osbackup-new-$f" && mv -f ${dst}/".osbackup-new-$f" ${dst}/"$f"; done`,
        `for f in $(ls -A ${dst}); do case " ${names.join(' ')} " in *" $f "*) ;; *) rm -f ${dst}/"$f" ;; esac; done`,
        owner ? `chown -R ${shQuote(owner)} ${dst}` : `chown --reference=${st}/${d} ${dst}`,
        `chmod 700 ${dst}; chmod 600 ${dst}/*`,
      ].join('\n');
    }),
    `cd ${k} && find ${dirs.map(shQuote).join(' ')} -type f ! -name '.osbackup-*' -printf '%p %m %U:%G\\n' | sort && echo --sums-- && find ${dirs.map(shQuote).join(' ')} -type f ! -name '.osbackup-*' -exec sha256sum {} + | sort -k2`,
  ].join('\n');
}

/** Parses installKeysScript's output: path → { sha256, mode, owner }. */
export function parseInstalledKeys(stdout: string): Map<string, { sha256: string; mode: string; owner: string }> {
  const [meta = '', sums = ''] = stdout.split('--sums--\n');
  const info = new Map<string, { mode: string; owner: string }>();
  for (const l of meta.split('\n').filter(Boolean)) {
    const [p, mode, owner] = l.split(' ');
    info.set(p!, { mode: mode!, owner: owner! });
  }
  const out = new Map<string, { sha256: string; mode: string; owner: string }>();
  for (const l of sums.split('\n').filter(Boolean)) {
    const m = /^([0-9a-f]{64})\s+(.*)$/.exec(l);
    if (m) out.set(m[2]!, { sha256: m[1]!, ...(info.get(m[2]!) ?? { mode: '?', owner: '?' }) });
  }
  return out;
}
