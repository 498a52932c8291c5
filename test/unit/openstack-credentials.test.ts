import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { cloudsYamlSearchPath, loadCredentials, parseOpenrc } from '../../activities/openstack/credentials.js';
import { apiMessage, httpFailure } from '../../activities/openstack/http.js';

const dir = mkdtempSync(join(tmpdir(), 'osb-os-creds-'));
const clouds = join(dir, 'clouds.yaml');
writeFileSync(
  clouds,
  `clouds:
  prod:
    auth: { auth_url: "http://ks:5000", username: admin, project_name: admin, user_domain_name: Default, project_domain_name: Default }
    region_name: RegionOne
  ac:
    auth_type: v3applicationcredential
    auth: { auth_url: "http://ks:5000/v3/", application_credential_id: abc, application_credential_secret: s3cr3t-ac }
    interface: internal
`,
);
writeFileSync(join(dir, 'secure.yaml'), 'clouds:\n  prod:\n    auth: { password: from-secure-yaml }\n');

function failure(f: () => unknown): ApplicationFailure {
  try {
    f();
  } catch (e) {
    return e as ApplicationFailure;
  }
  throw new Error('did not throw');
}

describe('OpenStack credentials', () => {
  test('clouds.yaml + secure.yaml: password auth, /v3 appended, region kept', () => {
    const c = loadCredentials({ cloudsYaml: clouds, cloud: 'prod' }, {});
    expect(c).toMatchObject({
      method: 'password',
      authUrl: 'http://ks:5000/v3',
      username: 'admin',
      password: 'from-secure-yaml',
      projectName: 'admin',
      region: 'RegionOne',
      interface: 'public',
    });
  });
  test('application credential by id; config region/interface override', () => {
    const c = loadCredentials({ cloudsYaml: clouds, cloud: 'ac', region: 'R2' }, {});
    expect(c).toMatchObject({
      method: 'application_credential',
      id: 'abc',
      secret: 's3cr3t-ac',
      authUrl: 'http://ks:5000/v3',
      interface: 'internal',
      region: 'R2',
    });
  });
  test('OS_CLOUD through the search path (OS_CLIENT_CONFIG_FILE first)', () => {
    expect(cloudsYamlSearchPath({ OS_CLIENT_CONFIG_FILE: '/x/c.yaml', HOME: '/h' }, '/w')).toEqual([
      '/x/c.yaml',
      '/w/clouds.yaml',
      '/h/.config/openstack/clouds.yaml',
      '/etc/openstack/clouds.yaml',
    ]);
    expect(loadCredentials(undefined, { OS_CLOUD: 'prod', OS_CLIENT_CONFIG_FILE: clouds }).method).toBe('password');
  });
  test('OS_* variables and an openrc file (read, never executed)', () => {
    const rc = join(dir, 'admin-openrc.sh');
    writeFileSync(
      rc,
      `# openrc\nexport OS_AUTH_URL=http://ks:5000/v3\nexport OS_USERNAME="admin"\nexport OS_PASSWORD='pw x'\nexport OS_PROJECT_NAME=admin\nexport OS_ENDPOINT_TYPE=internalURL\nexport OS_REGION_NAME=$(cat /etc/region)\n`,
    );
    expect(parseOpenrc('export OS_PASSWORD=$OS_PASSWORD_INPUT\n')).toEqual({});
    const c = loadCredentials({ openrc: rc }, {});
    expect(c).toMatchObject({ method: 'password', password: 'pw x', interface: 'internal', userDomainName: 'Default' });
    expect(c.region).toBeUndefined();
    expect(
      loadCredentials(undefined, {
        OS_AUTH_URL: 'http://k/v3',
        OS_AUTH_TYPE: 'v3applicationcredential',
        OS_APPLICATION_CREDENTIAL_ID: 'i',
        OS_APPLICATION_CREDENTIAL_SECRET: 's',
      }).method,
    ).toBe('application_credential');
  });
  test('missing pieces are non-retryable and say what to fix', () => {
    const none = failure(() => loadCredentials(undefined, {}));
    expect(none.nonRetryable).toBe(true);
    expect(none.type).toBe('OpenstackCredentialsMissing');
    expect(failure(() => loadCredentials({ cloudsYaml: clouds, cloud: 'nope' }, {})).message).toMatch(
      /cloud "nope" is not in .*\(it has: prod, ac\)/,
    );
    expect(failure(() => loadCredentials(undefined, { OS_AUTH_URL: 'http://k', OS_USERNAME: 'u' })).message).toMatch(
      /has no password/,
    );
  });
});

describe('OpenStack HTTP failures', () => {
  test('the API message is extracted from its JSON or HTML body', () => {
    expect(apiMessage('{"badRequest": {"message": "Invalid volume: must be available", "code": 400}}')).toBe(
      'Invalid volume: must be available',
    );
    expect(
      apiMessage(
        '{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}',
      ),
    ).toMatch(/requires authentication/);
    expect(apiMessage('<html><body><h1>404 Not Found</h1>No image found with ID x</body></html>')).toBe(
      '404 Not Found No image found with ID x',
    );
  });
  test.each([
    [400, 'OpenstackRequestRejected', true],
    [401, 'OpenstackAuthFailed', true],
    [403, 'OpenstackForbidden', true],
    [404, 'OpenstackNotFound', true],
    [413, 'OpenstackRequestRejected', true],
    [409, 'OpenstackConflict', false],
    [429, 'OpenstackUnavailable', false],
    [500, 'OpenstackUnavailable', false],
    [503, 'OpenstackUnavailable', false],
  ])('HTTP %i → %s (nonRetryable %s)', (status, type, nonRetryable) => {
    const f = httpFailure(status, '{"x": {"message": "why"}}', 'GET volume /x');
    expect([f.type, f.nonRetryable]).toEqual([type, nonRetryable]);
    expect(f.message).toContain(`GET volume /x: HTTP ${status}: why`);
  });
});
