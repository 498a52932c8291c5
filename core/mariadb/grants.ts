// What `SHOW GRANTS` grants on *.*: the one reading behind every "does this user have what the
// job needs" check (backup, binlog archive, dump).

/** The global privileges, upper-cased; `all` when ALL PRIVILEGES is granted. */
export function globalGrants(showGrants: string): { all: boolean; have: Set<string> } {
  const global = showGrants
    .split('\n')
    .filter((l) => /^GRANT .* ON \*\.\* TO /i.test(l))
    .map((l) =>
      l
        .replace(/^GRANT /i, '')
        .replace(/ ON \*\.\* TO .*$/i, '')
        .toUpperCase(),
    );
  return {
    all: global.some((g) => g.includes('ALL PRIVILEGES')),
    have: new Set(global.flatMap((g) => g.split(',').map((p) => p.trim()))),
  };
}
