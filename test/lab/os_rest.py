#!/usr/bin/python3
"""The lab OpenStack's one-time setup over REST, with the standard library only.

Each `openstack` CLI start costs ~2.5 s of CPU (more while the services boot on two cores);
these calls are plain HTTP. Credentials come from the OS_* environment (admin-openrc.sh).

  os_rest.py catalog <address> <service password>   service project, users, services, endpoints
  os_rest.py post                                   m1.tiny flavor, nfs volume type, neutron warm-up
  os_rest.py pools <pool>                           exit 0 when Cinder's scheduler knows the pool
"""
import json
import os
import sys
import urllib.error
import urllib.request


def call(method, url, token=None, body=None, ok=(200, 201, 202, 204)):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header('Accept', 'application/json')
    if data is not None:
        req.add_header('Content-Type', 'application/json')
    if token:
        req.add_header('X-Auth-Token', token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, r.headers, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        if e.code in ok:
            return e.code, e.headers, None
        sys.exit(f'{method} {url}: HTTP {e.code}: {e.read()[:300]!r}')


def token():
    e = os.environ
    body = {'auth': {
        'identity': {'methods': ['password'], 'password': {'user': {'name': e['OS_USERNAME'], 'domain': {'name': e['OS_USER_DOMAIN_NAME']}, 'password': e['OS_PASSWORD']}}},
        'scope': {'project': {'name': e['OS_PROJECT_NAME'], 'domain': {'name': e['OS_PROJECT_DOMAIN_NAME']}}},
    }}
    _, h, b = call('POST', e['OS_AUTH_URL'].rstrip('/') + '/auth/tokens', body=body)
    return h['X-Subject-Token'], b['token']


def endpoint(tok, kind):
    for s in tok.get('catalog', []):
        if s['type'] == kind:
            for ep in s['endpoints']:
                if ep['interface'] == 'public':
                    return ep['url'].rstrip('/')
    sys.exit(f'no public {kind} endpoint in the catalog')


def catalog(addr, spw):
    t, _ = token()
    ks = os.environ['OS_AUTH_URL'].rstrip('/')
    project = call('POST', f'{ks}/projects', t, {'project': {'name': 'service', 'domain_id': 'default'}})[2]['project']['id']
    role = call('GET', f'{ks}/roles?name=admin', t)[2]['roles'][0]['id']
    for u in ('glance', 'cinder', 'nova', 'placement', 'neutron'):
        uid = call('POST', f'{ks}/users', t, {'user': {'name': u, 'password': spw, 'domain_id': 'default'}})[2]['user']['id']
        call('PUT', f'{ks}/projects/{project}/users/{uid}/roles/{role}', t)
    services = [
        ('glance', 'image', f'http://{addr}:9292'),
        ('cinderv3', 'volumev3', f'http://{addr}:8776/v3/%(project_id)s'),
        ('nova', 'compute', f'http://{addr}:8774/v2.1'),
        ('placement', 'placement', f'http://{addr}:8778'),
        ('neutron', 'network', f'http://{addr}:9696'),
    ]
    for name, kind, url in services:
        sid = call('POST', f'{ks}/services', t, {'service': {'name': name, 'type': kind}})[2]['service']['id']
        for i in ('public', 'internal', 'admin'):
            call('POST', f'{ks}/endpoints', t, {'endpoint': {'service_id': sid, 'interface': i, 'url': url, 'region_id': 'RegionOne'}})


def post():
    t, tok = token()
    nova, cinder, neutron = endpoint(tok, 'compute'), endpoint(tok, 'volumev3'), endpoint(tok, 'network')
    # the first port listing loads neutron's extensions: done here, not in Nova's first boot
    call('GET', f'{neutron}/v2.0/networks', t)
    call('GET', f'{neutron}/v2.0/ports', t)
    call('POST', f'{nova}/flavors', t, {'flavor': {'name': 'm1.tiny', 'ram': 512, 'disk': 1, 'vcpus': 1}}, ok=(409,))
    call('POST', f'{cinder}/types', t, {'volume_type': {'name': 'nfs', 'extra_specs': {'volume_backend_name': 'nfs'}}}, ok=(409,))


def pools(pool):
    t, tok = token()
    b = call('GET', f'{endpoint(tok, "volumev3")}/scheduler-stats/get_pools', t)[2]
    names = [p['name'] for p in b.get('pools', [])]
    sys.exit(0 if any(n.startswith(pool) for n in names) else 1)


if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    {'catalog': catalog, 'post': post, 'pools': pools}[cmd](*args)
