// A time the user typed on the command line, read as UTC unless it names its zone.
import { CliError, EXIT } from '../connect.js';

export function utcTime(text: string, flag = '--at'): string {
  const t = /(Z|[+-]\d\d:?\d\d)$/i.test(text.trim()) ? text.trim() : `${text.trim().replace(' ', 'T')}Z`;
  const ms = Date.parse(t);
  if (!Number.isFinite(ms))
    throw new CliError(
      `${flag} "${text}" is not a time: use UTC like "2026-11-30 04:05:06" or ISO 8601 "2026-11-30T04:05:06Z"`,
      EXIT.usage,
    );
  return new Date(ms).toISOString();
}
