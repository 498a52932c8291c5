// zstd as a child process: Node 20's zlib has no zstd, and the stock binary is what the
// hand-restore recipe uses anyway.
import { execa } from 'execa';
import { spawnStage, type ProcessStage } from './stage.js';

export function zstdCompress(level: number, signal?: AbortSignal): ProcessStage {
  return spawnStage('zstd', 'zstd', ['-q', `-${level}`, '-T0', '-c'], { signal });
}

export function zstdDecompress(signal?: AbortSignal): ProcessStage {
  return spawnStage('zstd -d', 'zstd', ['-q', '-d', '-c'], { signal });
}

export async function zstdVersion(): Promise<string> {
  const r = await execa('zstd', ['--version']);
  return /v[\d.]+/.exec(r.stdout)?.[0] ?? r.stdout.trim();
}
