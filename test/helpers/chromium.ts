// Headless Chromium driven over the DevTools protocol through a pipe (--remote-debugging-pipe:
// fd 3 in, fd 4 out, NUL-terminated JSON): no WebSocket, no npm package, the system browser.
// The protocol reports what `--enable-logging` misses — failed resource loads come as
// Log.entryAdded, not as console output — so "no console errors" means all of them.
import { spawn, spawnSync } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

export const CHROMIUM_CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome'];

/** The browser's path, or null when none is installed. */
export function findChromium(): string | null {
  for (const c of CHROMIUM_CANDIDATES) {
    const r = spawnSync('sh', ['-c', `command -v ${c}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return null;
}

export interface PageProblem {
  source: 'console' | 'exception' | 'log';
  level: string;
  text: string;
}

export interface RenderResult<T> {
  problems: PageProblem[];
  /** What `evaluate` returned in the page (JSON-serialisable). */
  value: T;
  screenshot: Buffer | null;
}

/**
 * Loads `url`, waits for the load event, runs `evaluate` (an expression) in the page, optionally
 * takes a full-page PNG, and returns every console error/warning, uncaught exception and
 * browser log error (failed loads, blocked resources) seen meanwhile.
 */
export async function renderPage<T>(
  url: string,
  evaluate: string,
  opts: { screenshot?: boolean; width?: number; timeoutMs?: number; browser?: string } = {},
): Promise<RenderResult<T>> {
  const browser = opts.browser ?? findChromium();
  if (!browser)
    throw new Error(`no Chromium found (tried ${CHROMIUM_CANDIDATES.join(', ')}): apt-get install chromium`);
  const child = spawn(
    browser,
    [
      '--headless',
      '--disable-gpu',
      '--no-sandbox',
      '--no-first-run',
      '--hide-scrollbars',
      '--remote-debugging-pipe',
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const toBrowser = child.stdio[3] as Writable;
  const fromBrowser = child.stdio[4] as Readable;
  let nextId = 1;
  const waiting = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  const listeners: ((m: { method: string; params: Record<string, unknown>; sessionId?: string }) => void)[] = [];
  let buf = Buffer.alloc(0);
  fromBrowser.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    let i: number;
    while ((i = buf.indexOf(0)) >= 0) {
      const msg = JSON.parse(buf.subarray(0, i).toString('utf8')) as {
        id?: number;
        result?: Record<string, unknown>;
        error?: { message: string };
        method?: string;
        params?: Record<string, unknown>;
        sessionId?: string;
      };
      buf = buf.subarray(i + 1);
      if (msg.id !== undefined) {
        const w = waiting.get(msg.id);
        waiting.delete(msg.id);
        if (msg.error) w?.reject(new Error(msg.error.message));
        else w?.resolve(msg.result ?? {});
      } else if (msg.method)
        for (const l of listeners) l({ method: msg.method, params: msg.params ?? {}, sessionId: msg.sessionId });
    }
  });
  const exited = new Promise<never>((_, reject) =>
    child.on('exit', (code) => reject(new Error(`chromium exited (${code}): ${stderr.slice(-2000)}`))),
  );
  const send = (
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<Record<string, unknown>> => {
    const id = nextId++;
    const p = new Promise<Record<string, unknown>>((resolve, reject) => waiting.set(id, { resolve, reject }));
    toBrowser.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    return Promise.race([p, exited]);
  };
  const timeout = opts.timeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  const work = async (): Promise<RenderResult<T>> => {
    const { targetId } = (await send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    const problems: PageProblem[] = [];
    let loaded!: () => void;
    const load = new Promise<void>((r) => (loaded = r));
    listeners.push((m) => {
      if (m.sessionId !== sessionId) return;
      if (m.method === 'Runtime.consoleAPICalled' && ['error', 'warning', 'assert'].includes(m.params.type as string)) {
        const args = (m.params.args as { value?: unknown; description?: string }[]).map((a) =>
          String(a.value ?? a.description ?? ''),
        );
        problems.push({ source: 'console', level: m.params.type as string, text: args.join(' ') });
      } else if (m.method === 'Runtime.exceptionThrown') {
        const d = m.params.exceptionDetails as { text: string; exception?: { description?: string } };
        problems.push({
          source: 'exception',
          level: 'error',
          text: `${d.text} ${d.exception?.description ?? ''}`.trim(),
        });
      } else if (m.method === 'Log.entryAdded') {
        const e = m.params.entry as { level: string; text: string; url?: string };
        if (e.level === 'error' || e.level === 'warning')
          problems.push({ source: 'log', level: e.level, text: `${e.text}${e.url ? ` (${e.url})` : ''}` });
      } else if (m.method === 'Page.loadEventFired') loaded();
    });
    await send('Runtime.enable', {}, sessionId);
    await send('Log.enable', {}, sessionId);
    await send('Page.enable', {}, sessionId);
    await send(
      'Emulation.setDeviceMetricsOverride',
      { width: opts.width ?? 1280, height: 900, deviceScaleFactor: 1, mobile: false },
      sessionId,
    );
    await send('Page.navigate', { url }, sessionId);
    await load;
    // late log entries (a failed image) arrive just after the load event
    await new Promise((r) => setTimeout(r, 300));
    const ev = (await send('Runtime.evaluate', { expression: evaluate, returnByValue: true }, sessionId)) as {
      result: { value: T };
      exceptionDetails?: { text: string };
    };
    if (ev.exceptionDetails) throw new Error(`evaluate failed: ${ev.exceptionDetails.text}`);
    let screenshot: Buffer | null = null;
    if (opts.screenshot) {
      const metrics = (await send('Page.getLayoutMetrics', {}, sessionId)) as {
        cssContentSize: { width: number; height: number };
      };
      const clip = {
        x: 0,
        y: 0,
        width: Math.ceil(metrics.cssContentSize.width),
        height: Math.ceil(metrics.cssContentSize.height),
        scale: 1,
      };
      const shot = (await send(
        'Page.captureScreenshot',
        { format: 'png', captureBeyondViewport: true, clip },
        sessionId,
      )) as { data: string };
      screenshot = Buffer.from(shot.data, 'base64');
    }
    return { problems, value: ev.result.value, screenshot };
  };
  try {
    return await Promise.race([
      work(),
      new Promise<never>(
        (_, reject) =>
          (timer = setTimeout(() => reject(new Error(`chromium did not render ${url} within ${timeout} ms`)), timeout)),
      ),
    ]);
  } finally {
    clearTimeout(timer);
    exited.catch(() => undefined);
    await send('Browser.close').catch(() => undefined);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}
