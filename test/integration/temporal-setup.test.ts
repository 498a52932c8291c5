// `osbackup temporal setup` against the lab's Temporal, on a namespace of its own: before it,
// the CLI and the worker refuse to start and name it; it creates the namespace and registers
// the search attributes, says so, and a second run changes nothing; then a run starts.
import { cleanUpTemporal, cli, deriveConfig, startWorker, temporalClient } from '../helpers/lab.js';

const namespace = `osb-setup-${process.pid}`;
const configFile = deriveConfig('setup', (c) => {
  c.temporal.namespace = namespace;
});

test('before setup: the CLI and the worker refuse, naming the command', async () => {
  const r = await cli(configFile, ['backup', 'db']);
  expect(r.exitCode).toBe(2);
  expect(r.stderr).toContain(`namespace ${namespace} does not exist`);
  expect(r.stderr).toContain('osbackup temporal setup');
  await expect(startWorker(configFile)).rejects.toThrow(/namespace .* does not exist[\s\S]*osbackup temporal setup/);
});

test('setup creates the namespace and registers the attributes; a second run changes nothing', async () => {
  const first = await cli(configFile, ['--json', 'temporal', 'setup', '--retention-days', '1']);
  expect(first.exitCode).toBe(0);
  const r = JSON.parse(first.stdout) as {
    namespace: { state: string };
    searchAttributes: { name: string; state: string }[];
    changed: boolean;
  };
  expect(r.namespace.state).toBe('created');
  expect(r.searchAttributes).toEqual(['Cloud', 'Component', 'Tier', 'Phase'].map((name) => ({ name, state: 'added' })));
  expect(r.changed).toBe(true);
  const again = await cli(configFile, ['temporal', 'setup']);
  expect(again.exitCode).toBe(0);
  expect(again.stdout).toMatch(/namespace .*: existed/);
  expect(again.stdout).toMatch(/nothing to change/);
});

test('after setup: a backup starts on the new namespace (its search attributes accepted)', async () => {
  const r = await cli(configFile, ['--json', 'backup', 'db']);
  expect(r.stderr).not.toMatch(/refused|lacks/);
  expect(r.exitCode).toBe(0);
  const { workflowId } = JSON.parse(r.stdout) as { workflowId: string };
  expect(workflowId).toMatch(/^backup-db:lab:/);
  // nobody polls this namespace's queue: the run would only wait
  const { client, close } = await temporalClient(configFile);
  await cleanUpTemporal(client, [], [workflowId], 'setup test cleanup');
  await close();
});
