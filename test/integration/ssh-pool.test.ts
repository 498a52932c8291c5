// The pooled SSH client serves every command of a worker's lifetime: a command leaves no listener
// behind on the client, nor on the activity's cancellation signal that many commands share.
import { getEventListeners } from 'node:events';
import { Env } from '../../activities/deps.js';
import { SshPool } from '../../activities/ssh/pool.js';
import { loadConfig } from '../../config/load.js';
import { labConfigPath } from '../helpers/lab.js';

test('a hundred commands on one pooled connection leave its listeners as they were', async () => {
  const pool = new SshPool();
  const env = new Env({ config: loadConfig(labConfigPath()), env: process.env, ssh: pool });
  const { target } = env.host('lab', 'ctl1');
  const client = await pool.connection(target);
  const cancel = new AbortController();
  const counts = () => ({
    close: client.listenerCount('close'),
    error: client.listenerCount('error'),
    abort: getEventListeners(cancel.signal, 'abort').length,
  });
  await pool.run(target, 'true', { signal: cancel.signal });
  const before = counts();
  for (let i = 0; i < 100; i++) {
    const r = await pool.run(target, `echo ${i}`, { signal: cancel.signal });
    expect(r.stdout.trim()).toBe(String(i));
  }
  // a command that fails ends the same way
  expect((await pool.run(target, 'exit 3', { signal: cancel.signal })).code).toBe(3);
  expect(counts()).toEqual(before);
  expect(before.abort).toBe(0);
  pool.close();
}, 120_000);
