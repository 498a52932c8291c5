// OpenStack access against the lab's real Keystone/Cinder/Glance/Nova (os1): password and
// application-credential auth, one token reused across calls, and the clear non-retryable
// failures for bad credentials, an unknown region and a missing endpoint.
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { OpenStackSession } from '../../activities/openstack/session.js';
import { loadCredentials } from '../../activities/openstack/credentials.js';
import { cinder, glance, nova } from '../../activities/openstack/api.js';
import { adminSession, labAccess } from '../helpers/openstack.js';

async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (e) {
    return e as ApplicationFailure;
  }
  throw new Error('did not fail');
}

test('password auth from clouds.yaml: one token serves Cinder, Glance and Nova calls', async () => {
  const s = adminSession();
  await cinder.listVolumes(s, { allProjects: true });
  await glance.listImages(s, {});
  await nova.listServers(s, { allProjects: true });
  await cinder.volumeServices(s);
  expect(s.authCount).toBe(1);
  // a token Keystone no longer honours is renewed once, transparently
  (await s.currentToken()).value = 'gAAAAA-revoked';
  await cinder.listVolumes(s, {});
  expect(s.authCount).toBe(2);
});

test('application credential: created through Keystone, then used alone (no user, no password)', async () => {
  const admin = adminSession();
  const t = await admin.currentToken();
  const name = `osb-test-${process.pid}-${Date.now()}`;
  const ac = await admin.json(
    z.object({ application_credential: z.object({ id: z.string(), secret: z.string() }) }),
    'identity',
    'POST',
    `/users/${t.userId}/application_credentials`,
    { json: { application_credential: { name } } },
  );
  try {
    const { id, secret } = ac.application_credential;
    const creds = loadCredentials(undefined, {
      OS_AUTH_URL: admin.creds.authUrl,
      OS_AUTH_TYPE: 'v3applicationcredential',
      OS_APPLICATION_CREDENTIAL_ID: id,
      OS_APPLICATION_CREDENTIAL_SECRET: secret,
      OS_REGION_NAME: 'RegionOne',
    });
    const s = new OpenStackSession(creds);
    const services = await cinder.volumeServices(s);
    expect(services.map((x) => x.binary)).toContain('cinder-volume');
    expect((await s.currentToken()).projectId).toBe(t.projectId);
  } finally {
    await admin.request(
      'identity',
      'DELETE',
      `/users/${t.userId}/application_credentials/${ac.application_credential.id}`,
    );
  }
});

test('bad credentials, an unknown region, a missing endpoint: clear non-retryable failures', async () => {
  const bad = new OpenStackSession({ ...loadCredentials(labAccess(), {}), password: 'wrong-password' } as never);
  const f1 = await failure(cinder.listVolumes(bad, {}));
  expect([f1.type, f1.nonRetryable]).toEqual(['OpenstackAuthFailed', true]);
  expect(f1.message).toMatch(/HTTP 401: The request you have made requires authentication/);
  expect(f1.message).not.toContain('wrong-password');

  const f2 = await failure(cinder.listVolumes(adminSession({ region: 'Atlantis' }), {}));
  expect([f2.type, f2.nonRetryable]).toEqual(['OpenstackEndpointMissing', true]);
  expect(f2.message).toMatch(/no volume endpoint in region "Atlantis" \(the catalog has regions: RegionOne\)/);

  // a token scoped to no project carries no catalog: no Cinder endpoint to call
  const unscoped = new OpenStackSession({ ...loadCredentials(labAccess(), {}), projectName: undefined } as never);
  const f3 = await failure(cinder.listVolumes(unscoped, {}));
  expect([f3.type, f3.nonRetryable]).toEqual(['OpenstackEndpointMissing', true]);
  expect(f3.message).toMatch(/has no volume service/);

  const f4 = await failure(
    adminSession({ interface: 'internal' }).request('volume', 'GET', '/volumes/00000000-0000-0000-0000-000000000000'),
  );
  expect([f4.type, f4.nonRetryable]).toEqual(['OpenstackNotFound', true]);
});
