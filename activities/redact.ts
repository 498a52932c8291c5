// One place that scrubs secrets from text bound for logs, errors and Temporal history.
// Known secret values are registered when resolved; well-known shapes are masked as well.

const known = new Set<string>();

export function registerSecret(value: string): void {
  const v = value.trim();
  if (v.length >= 4) known.add(v);
}

const patterns: [RegExp, string][] = [
  [/(--password[= ])\S+/gi, '$1***'],
  // mysql-style -pSECRET as its own word after a command (not "-pbkdf2" in prose, not "x-prod")
  [
    /((?:^|\s)(?:mysql|mariadb|mysqldump|mariadb-dump|mariabackup|mysqladmin|mariadb-admin)\b[^\n]*?\s-p)(?=\S)\S+/g,
    '$1***',
  ],
  [/(password\s*[=:]\s*)\S+/gi, '$1***'],
  [/(passphrase\s*[=:]\s*)\S+/gi, '$1***'],
  [
    /-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY( BLOCK)?-----/g,
    '[private key redacted]',
  ],
];

export function redact(text: string): string {
  let out = text;
  for (const s of known) out = out.split(s).join('***');
  for (const [re, rep] of patterns) out = out.replace(re, rep);
  return out;
}
