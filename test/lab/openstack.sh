#!/usr/bin/env bash
# The lab's OpenStack cloud: real Zed services from Debian's packages in their own controller
# namespace osb-os1 (on the lab bridge, address $LAB_NET.14), with its own sshd and MariaDB
# (lab.sh's functions), so the services' databases are a third cloud osbackup backs up.
#
#   test/lab/openstack.sh up      (re)start it; needs the lab's bridge (lab.sh up) — writes
#                                 $LAB_DIR/os1/{clouds.yaml,admin-openrc.sh,cloud.yml}
#   test/lab/openstack.sh down    stop every process of osb-os1, unmount, remove $LAB_DIR/os1
#   test/lab/openstack.sh status  exit 0 when Keystone issues a token and every API answers
#
# Services: Keystone (uwsgi, fernet), Glance (file store), Cinder API/scheduler/volume (NFS driver
# on a bind-mounted folder: no device-mapper here, so no LVM) + cinder-backup (posix), RabbitMQ,
# Placement (uwsgi), an API-only neutron-server, Nova API/conductor/scheduler/compute with a fake
# virt driver (oslab_fake.py beside this file) whose snapshots upload data. Everything it owns is
# under $LAB_DIR/os1; it touches nothing of ctl1..ctl3. Knobs: OS_UP_TIMEOUT (s, default 240), OS_LAB_HOST.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.sh
source "$here/lab.sh"
# OS_LAB_HOST=os2: a second cloud beside a running os1 (to try changes to this script without
# stopping the one tests use)
H=${OS_LAB_HOST:-os1}; NS=osb-$H; A=${IP[$H]}; D=$LAB_DIR/$H
OS_UP_TIMEOUT=${OS_UP_TIMEOUT:-240}
T0=${EPOCHREALTIME/./}
took() { local d=$(( ${EPOCHREALTIME/./} - T0 )); printf '%d.%01ds' $((d / 1000000)) $((d % 1000000 / 100000)); }
inns() { ip netns exec "$NS" "$@"; }
share() { echo "127.0.0.1:$D/srv/nfs-export"; }
mnt() { echo "$D/srv/cinder/mnt/$(echo -n "$(share)" | md5sum | cut -d' ' -f1)"; }

os_down() {
  if ip netns list | grep -qw "$NS"; then
    local pids
    pids=$(ip netns pids "$NS" 2>/dev/null || true)
    [ -n "$pids" ] && kill -TERM $pids 2>/dev/null || true
    # everything under $D is deleted next: no shutdown worth waiting long for
    for _ in $(seq 1 50); do pids=$(ip netns pids "$NS" 2>/dev/null || true); [ -z "$pids" ] && break; sleep 0.2; done
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
  fi
  ip netns list | grep -qw "$SW" && ip -n "$SW" link del "$NS-p" 2>/dev/null || true
  if [ -d "$D/srv/cinder/mnt" ]; then
    for m in "$D"/srv/cinder/mnt/*; do mountpoint -q "$m" && umount "$m"; done
  fi
  rm -rf "$D"
}

os_net() {
  ip netns list | grep -qw "$SW" || die "no lab bridge ($SW): bring the lab up first (test/lab/lab.sh up)"
  [ -f "$LAB_DIR/keys/authorized_keys" ] || die "no $LAB_DIR/keys/authorized_keys: is LAB_DIR the running lab's folder?"
  ip netns add "$NS"
  ip -n "$NS" link set lo up
  ip link add "$NS-p" type veth peer name eth0 netns "$NS"
  ip link set "$NS-p" netns "$SW"
  ip -n "$SW" link set "$NS-p" master br0 up
  ip -n "$NS" addr add "$A/24" dev eth0
  ip -n "$NS" link set eth0 up
}

# wait_http <url> <status regex> [tries of 0.5 s]
wait_http() {
  for _ in $(seq 1 "${3:-$((OS_UP_TIMEOUT * 2))}"); do
    curl -s -o /dev/null -m 5 -w '%{http_code}' "$1" 2>/dev/null | grep -qE "$2" && return 0; sleep 0.5
  done
  die "$1 did not answer $2 (logs in $D/log)"
}

# ready <rabbitmq|catalog>: wait for another chain's marker file (a .failed one ends the wait)
ready() {
  for _ in $(seq 1 $((OS_UP_TIMEOUT * 2))); do
    [ -f "$D/run/$1.ready" ] && return 0
    [ -f "$D/run/$1.failed" ] && die "$1 on $H did not come up (see $D/log/$1-up.log)"
    sleep 0.5
  done
  die "$1 on $H not ready after $OS_UP_TIMEOUT s"
}

# run <name> <command…>: a service inside the namespace, detached, its pid in run/
run() { local n=$1; shift; inns setsid "$@" </dev/null >"$D/log/$n.out" 2>&1 & echo $! > "$D/run/$n.pid"; }

write_configs() {
  local db="mysql+pymysql://openstack:$DBPW@$A" mq="rabbit://openstack:$MQPW@$A:5672/"
  authtoken() { cat <<EOF
[keystone_authtoken]
www_authenticate_uri = http://$A:5000
auth_url = http://$A:5000
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $SPW
[oslo_policy]
enforce_new_defaults = false
enforce_scope = false
EOF
  }
  svcauth() { cat <<EOF
[$1]
region_name = RegionOne
auth_url = http://$A:5000
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $2
password = $SPW
EOF
  }
  cat > "$D/etc/keystone/keystone.conf" <<EOF
[DEFAULT]
log_file = $D/log/keystone.log
[database]
connection = $db/keystone
[token]
provider = fernet
[fernet_tokens]
key_repository = $D/srv/keystone/fernet-keys
[credential]
key_repository = $D/srv/keystone/credential-keys
EOF
  # uwsgi's plain http-socket resets POST /v3/auth/tokens unless Content-Length is dropped and the
  # connection closed (Debian's own keystone-uwsgi.ini does the same)
  cat > "$D/etc/keystone/uwsgi.ini" <<EOF
[uwsgi]
plugins = python3
http-socket = $A:5000
wsgi-file = /usr/bin/keystone-wsgi-public
processes = 2
threads = 1
master = true
lazy-apps = true
die-on-term = true
enable-threads = true
buffer-size = 65535
rem-header = Content-Length
add-header = Connection: close
env = OS_KEYSTONE_CONFIG_DIR=$D/etc/keystone
env = OS_KEYSTONE_CONFIG_FILES=keystone.conf
pidfile = $D/run/keystone.pid
logto = $D/log/keystone-uwsgi.log
EOF
  cat > "$D/etc/glance/glance-api.conf" <<EOF
[DEFAULT]
bind_host = $A
bind_port = 9292
workers = 1
log_file = $D/log/glance-api.log
enabled_backends = file:file
[database]
connection = $db/glance
[glance_store]
default_backend = file
[file]
filesystem_store_datadir = $D/srv/glance/images/
[os_glance_staging_store]
filesystem_store_datadir = $D/srv/glance/staging/
[os_glance_tasks_store]
filesystem_store_datadir = $D/srv/glance/tasks/
[paste_deploy]
flavor = keystone
config_file = /etc/glance/glance-api-paste.ini
$(authtoken glance)
EOF
  share > "$D/etc/cinder/nfs_shares"
  # periodic_interval: the volume service publishes its pools every 10 s, else the scheduler
  # knows no backend for a minute or two
  cat > "$D/etc/cinder/cinder.conf" <<EOF
[DEFAULT]
host = $H
my_ip = $A
state_path = $D/srv/cinder
log_dir = $D/log
auth_strategy = keystone
transport_url = $mq
osapi_volume_listen = $A
osapi_volume_listen_port = 8776
osapi_volume_workers = 1
api_paste_config = /etc/cinder/api-paste.ini
rootwrap_config = /etc/cinder/rootwrap.conf
enabled_backends = nfs
default_volume_type = nfs
glance_api_servers = http://$A:9292
backup_driver = cinder.backup.drivers.posix.PosixBackupDriver
backup_posix_path = $D/srv/cinder-backups
; the lab's volumes are sparse test data: compressing them only costs the shared cores time
backup_compression_algorithm = none
periodic_interval = 10
periodic_fuzzy_delay = 0
; tests make hundreds of volumes and snapshots (the fan-out benchmark)
quota_volumes = -1
quota_snapshots = -1
quota_gigabytes = -1
quota_backups = -1
quota_backup_gigabytes = -1
[database]
connection = $db/cinder
[oslo_concurrency]
lock_path = $D/srv/cinder/lock
[nfs]
volume_driver = cinder.volume.drivers.nfs.NfsDriver
volume_backend_name = nfs
nfs_shares_config = $D/etc/cinder/nfs_shares
nfs_mount_point_base = $D/srv/cinder/mnt
nfs_snapshot_support = true
nfs_sparsed_volumes = true
nas_secure_file_operations = false
nas_secure_file_permissions = false
$(authtoken cinder)
$(svcauth nova nova)
interface = public
EOF
  cat > "$D/etc/placement/placement.conf" <<EOF
[DEFAULT]
log_file = $D/log/placement.log
[placement_database]
connection = $db/placement
[api]
auth_strategy = keystone
$(authtoken placement)
EOF
  cat > "$D/etc/placement/uwsgi.ini" <<EOF
[uwsgi]
plugins = python3
http-socket = $A:8778
wsgi-file = /usr/bin/placement-api
processes = 1
threads = 4
master = true
lazy-apps = true
die-on-term = true
enable-threads = true
buffer-size = 65535
add-header = Connection: close
env = OS_PLACEMENT_CONFIG_DIR=$D/etc/placement
pidfile = $D/run/placement.pid
logto = $D/log/placement-uwsgi.log
EOF
  # API only: no agents, no mechanism drivers. Nova needs the network API even for --nic none;
  # router,port_forwarding make GET /v2.0/ports work (Port.port_forwardings relationship)
  cat > "$D/etc/neutron/neutron.conf" <<EOF
[DEFAULT]
bind_host = $A
bind_port = 9696
core_plugin = ml2
service_plugins = router,port_forwarding
auth_strategy = keystone
transport_url = $mq
api_workers = 1
rpc_workers = 0
rpc_state_report_workers = 0
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
state_path = $D/srv/neutron
log_file = $D/log/neutron-server.log
api_paste_config = /etc/neutron/api-paste.ini
[database]
connection = $db/neutron
[oslo_concurrency]
lock_path = $D/srv/neutron/lock
[ml2]
type_drivers = flat
tenant_network_types =
mechanism_drivers =
extension_drivers = port_security
[ml2_type_flat]
flat_networks = *
[securitygroup]
firewall_driver = noop
$(authtoken neutron)
EOF
  cat > "$D/etc/nova/nova.conf" <<EOF
[DEFAULT]
host = $H
my_ip = $A
state_path = $D/srv/nova
instances_path = $D/srv/nova/instances
log_dir = $D/log
transport_url = $mq
compute_driver = oslab_fake.AssistedSnapshotFakeDriver
enabled_apis = osapi_compute
osapi_compute_listen = $A
osapi_compute_listen_port = 8774
osapi_compute_workers = 1
api_paste_config = /etc/nova/api-paste.ini
rootwrap_config = /etc/nova/rootwrap.conf
[api]
auth_strategy = keystone
[api_database]
connection = $db/nova_api
[database]
connection = $db/nova
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 10
[glance]
api_servers = http://$A:9292
[cinder]
os_region_name = RegionOne
[oslo_concurrency]
lock_path = $D/srv/nova/lock
[vnc]
enabled = false
[quota]
instances = -1
cores = -1
ram = -1
[oslo_messaging_notifications]
driver = noop
$(authtoken nova)
$(svcauth service_user nova)
send_service_user_token = true
$(svcauth placement placement)
$(svcauth neutron neutron)
EOF
  cp "$here/oslab_fake.py" "$D/py/virt/oslab_fake.py"
  # Nova loads virt drivers only from its nova.virt package: extend that package's path
  cat > "$D/py/nova-compute-lab" <<EOF
#!/usr/bin/python3
import sys
from nova.cmd import compute   # eventlet monkey-patching happens on this import
import nova.virt
nova.virt.__path__.append('$D/py/virt')
sys.exit(compute.main())
EOF
  chmod +x "$D/py/nova-compute-lab"
}

write_client_files() {
  (umask 077
  cat > "$D/clouds.yaml" <<EOF
# the lab's OpenStack admin credentials (os-client-config format)
clouds:
  osb-lab:
    auth:
      auth_url: http://$A:5000/v3
      username: admin
      password: $APW
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
EOF
  cat > "$D/admin-openrc.sh" <<EOF
export OS_AUTH_URL=http://$A:5000/v3 OS_USERNAME=admin OS_PASSWORD=$APW OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_IDENTITY_API_VERSION=3
export OS_REGION_NAME=RegionOne OS_INTERFACE=public
EOF
  )
  # the third lab cloud, for lab.sh's write_config (osbackup backs up os1's MariaDB)
  cat > "$D/cloud.yml" <<EOF
  openstack:
    database:
      host: $H
      user: osbackup
      password: { file: $LAB_DIR/secrets/db-password }
      verifyTables: [keystone.project, glance.images, cinder.volumes, nova.instances]
    openstack:
      cloudsYaml: $D/clouds.yaml
      cloud: osb-lab
    hosts:
      $H:
        address: $A
        port: 22
        user: root
        keyFile: $LAB_DIR/keys/worker_ed25519
        hostKeyFingerprint: "$(fp $H)"
        containerRuntime: none
        mariadb:
          defaultsFile: $D/my.cnf
          datadir: $D/data
          stopCommand: [$here/db.sh, stop, $D]
          startCommand: [$here/db.sh, start, $D]
          restoreDir: $D/restore
EOF
  # The DR drill's isolated host: ctl2's MariaDB (a scratch restore target of the lab anyway),
  # never os1's own server, which the cloud's services use. lab.sh up makes ctl2's host key
  # while this runs in the background: wait for it; without it the cloud gets no drill section.
  local k=$LAB_DIR/ctl2/ssh/host_ed25519.pub
  for _ in $(seq 1 120); do [ -s "$k" ] && break; sleep 0.5; done
  if [ ! -s "$k" ]; then log "openstack: no ctl2 host key ($k): the openstack cloud gets no drill section"; return 0; fi
  cat >> "$D/cloud.yml" <<EOF
      ctl2:
        address: ${IP[ctl2]}
        port: 22
        user: root
        keyFile: $LAB_DIR/keys/worker_ed25519
        hostKeyFingerprint: "$(fp ctl2)"
        containerRuntime: none
        mariadb:
          defaultsFile: $LAB_DIR/ctl2/my.cnf
          datadir: $LAB_DIR/ctl2/data
          stopCommand: [$here/db.sh, stop, $LAB_DIR/ctl2]
          startCommand: [$here/db.sh, start, $LAB_DIR/ctl2]
          restoreDir: $LAB_DIR/ctl2/restore
    drill:
      host: ctl2
      # generous lab targets: the drill measures; a breach is a real regression
      rtoTargetSeconds: 600
      rpoTargetSeconds: 604800
EOF
}

os_up() {
  for c in keystone-manage glance-api cinder-volume cinder-backup nova-compute neutron-server placement-api uwsgi openstack mount.nfs; do
    command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || [ -x "/sbin/$c" ] || die "missing $c (run ./dev setup: the OpenStack packages are in APT_PACKAGES)"
  done
  os_down
  log "openstack: namespace $NS at $A"
  os_net
  # services keep their state under srv/: data/ is MariaDB's datadir (its subfolders are databases)
  mkdir -p "$D"/{etc/keystone,etc/glance,etc/cinder,etc/nova,etc/placement,etc/neutron,log,run,py/virt} \
    "$D"/srv/{keystone/fernet-keys,keystone/credential-keys,glance/images,glance/staging,glance/tasks,cinder/lock,cinder/mnt,cinder-backups,nfs-export,nova/instances,nova/lock,neutron/lock}
  chmod 700 "$D" "$D/srv/keystone/fernet-keys" "$D/srv/keystone/credential-keys"
  DBPW=$(head -c 18 /dev/urandom | base64 | tr -d '/+='); MQPW=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  SPW=$(head -c 18 /dev/urandom | base64 | tr -d '/+='); APW=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  ssh_up $H
  (rmq_start "$NS" "$D" "$A" && rmq_ctl "$NS" "$D" -q add_user openstack "$MQPW" && rmq_ctl "$NS" "$D" -q set_permissions openstack '.*' '.*' '.*' &&
    touch "$D/run/rabbitmq.ready" || { touch "$D/run/rabbitmq.failed"; exit 1; }) >"$D/log/rabbitmq-up.log" 2>&1 &
  db_up $H 14 256M
  local m=(mariadb --defaults-file="$D/my.cnf")
  local dbs="keystone glance cinder nova nova_api nova_cell0 placement neutron" sql=""
  for x in $dbs; do sql+="CREATE DATABASE $x; "; done
  "${m[@]}" -e "$sql CREATE USER 'openstack'@'%' IDENTIFIED BY '$DBPW'; GRANT ALL ON *.* TO 'openstack'@'%';
    CREATE USER 'osbackup'@'localhost' IDENTIFIED BY '$(cat "$LAB_DIR/secrets/db-password")';
    CREATE USER 'osbackup'@'%' IDENTIFIED BY '$(cat "$LAB_DIR/secrets/db-password")';
    GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR, SELECT ON *.* TO 'osbackup'@'localhost', 'osbackup'@'%';"
  write_configs
  write_client_files
  mount --bind "$D/srv/nfs-export" "$(mkdir -p "$(mnt)" && mnt)"
  # Every service's chain (schema, then its processes) runs at once: each starts as soon as its
  # own schema and what it talks to are there, instead of all waiting for the slowest schema.
  # Keystone's and Nova's chains are the longest (everything waits for the catalog, Nova's schema
  # is the biggest): the other schemas sync at a lower priority on the 2 shared cores
  log "openstack: schemas and services, each as soon as its own schema is there ($(took))"
  local p=() C=(--config-file)
  ( (K=(keystone-manage --config-dir "$D/etc/keystone")
    "${K[@]}" db_sync && "${K[@]}" fernet_setup --keystone-user root --keystone-group root &&
    "${K[@]}" credential_setup --keystone-user root --keystone-group root &&
    "${K[@]}" bootstrap --bootstrap-password "$APW" --bootstrap-region-id RegionOne \
      --bootstrap-admin-url "http://$A:5000/v3/" --bootstrap-internal-url "http://$A:5000/v3/" --bootstrap-public-url "http://$A:5000/v3/" || exit 1
    run keystone uwsgi --ini "$D/etc/keystone/uwsgi.ini"
    wait_http "http://$A:5000/v3" 200
    (source "$D/admin-openrc.sh"; /usr/bin/python3 "$here/os_rest.py" catalog "$A" "$SPW") || exit 1
    log "openstack: keystone and its catalog ($(took))"
    touch "$D/run/catalog.ready") || { touch "$D/run/catalog.failed"; exit 1; } ) >"$D/log/up-keystone.log" 2>&1 & p+=($!)
  (nice -n 5 glance-manage "${C[@]}" "$D/etc/glance/glance-api.conf" db_sync || exit 1
    run glance-api glance-api "${C[@]}" "$D/etc/glance/glance-api.conf") >"$D/log/up-glance.log" 2>&1 & p+=($!)
  (nice -n 5 placement-manage --config-dir "$D/etc/placement" db sync || exit 1
    run placement uwsgi --ini "$D/etc/placement/uwsgi.ini") >"$D/log/up-placement.log" 2>&1 & p+=($!)
  (nice -n 5 cinder-manage "${C[@]}" "$D/etc/cinder/cinder.conf" db sync && ready rabbitmq || exit 1
    for s in api scheduler volume backup; do run cinder-$s cinder-$s "${C[@]}" "$D/etc/cinder/cinder.conf"; done) >"$D/log/up-cinder.log" 2>&1 & p+=($!)
  (nice -n 5 neutron-db-manage "${C[@]}" "$D/etc/neutron/neutron.conf" upgrade head && ready rabbitmq || exit 1
    run neutron-server neutron-server "${C[@]}" "$D/etc/neutron/neutron.conf") >"$D/log/up-neutron.log" 2>&1 & p+=($!)
  (N=("${C[@]}" "$D/etc/nova/nova.conf")
    nova-manage "${N[@]}" api_db sync && nova-manage "${N[@]}" cell_v2 map_cell0 &&
    nova-manage "${N[@]}" cell_v2 create_cell --name=cell1 && nova-manage "${N[@]}" db sync && ready rabbitmq || exit 1
    # nova-conductor authenticates as the nova service user at start and exits when Keystone
    # does not know it yet: Nova's processes wait for the catalog
    ready catalog
    for s in api conductor scheduler; do run nova-$s nova-$s "${N[@]}"; done
    # nova-compute reports its resources to Placement once at start (then every minute): it
    # starts when Placement answers
    wait_http "http://$A:8778/" 200
    run nova-compute "$D/py/nova-compute-lab" "${N[@]}") >"$D/log/up-nova.log" 2>&1 & p+=($!)
  local x
  for x in "${p[@]}"; do wait "$x" || { tail -n 5 "$D"/log/up-*.log "$D"/log/dbsync-*.log 2>/dev/null >&2; die "a service's schema or start failed (see $D/log/up-*.log)"; }; done
  wait_http "http://$A:9292/" '200|300'; wait_http "http://$A:8776/" '200|300'
  wait_http "http://$A:8778/" 200; wait_http "http://$A:9696/" 200; wait_http "http://$A:8774/" 200
  log "openstack: APIs answer; flavor, volume type, neutron warm-up, compute host, volume pool ($(took))"
  (source "$D/admin-openrc.sh"; /usr/bin/python3 "$here/os_rest.py" post) >"$D/log/post.log" 2>&1 & local pp=$!
  local ok="" next=0
  for _ in $(seq 1 $((OS_UP_TIMEOUT * 2))); do
    # cheap SQL polls; nova-manage (seconds of Python) once the compute node exists, then every 10 s
    if [ $SECONDS -ge $next ] && [ "$("${m[@]}" -N -e 'SELECT COUNT(*) FROM nova.compute_nodes')" -gt 0 ]; then
      nova-manage --config-file "$D/etc/nova/nova.conf" cell_v2 discover_hosts >/dev/null 2>&1 || true; next=$((SECONDS + 10))
    fi
    # a host mapping (scheduling finds the host) and a resource provider (Placement knows its capacity)
    [ "$("${m[@]}" -N -e 'SELECT (SELECT COUNT(*) FROM nova_api.host_mappings) * (SELECT COUNT(*) FROM placement.resource_providers)')" -gt 0 ] && ok=1 && break
    sleep 0.5
  done
  [ -n "$ok" ] || die "nova-compute never registered (see $D/log/nova-compute.log)"
  ok=""
  for _ in $(seq 1 $((OS_UP_TIMEOUT / 2))); do
    [ "$("${m[@]}" -N -e "SELECT COUNT(*) FROM cinder.services WHERE topic='cinder-volume' AND disabled=0 AND updated_at > NOW() - INTERVAL 30 SECOND")" -gt 0 ] &&
      (source "$D/admin-openrc.sh"; /usr/bin/python3 "$here/os_rest.py" pools "$H@nfs") && ok=1 && break; sleep 1
  done
  [ -n "$ok" ] || die "cinder-volume never reported its pool (see $D/log/cinder-volume.log)"
  wait $pp || { cat "$D/log/post.log" >&2; die "creating the flavor / volume type failed"; }
  os_status || die "the OpenStack services are not all answering"
  log "openstack: up in $(took); RSS of its processes: $(os_rss) MB; admin credentials in $D/clouds.yaml"
}

os_rss() { ip netns pids "$NS" | xargs -r ps -o rss= -p | awk '{s+=$1} END {printf "%d", s/1024}'; }

os_status() {
  local ok=0 code
  [ -f "$D/admin-openrc.sh" ] || { log "$H: not up (no $D/admin-openrc.sh)"; return 1; }
  code=$(source "$D/admin-openrc.sh"; curl -s -o /dev/null -m 10 -w '%{http_code}' -X POST "$OS_AUTH_URL/auth/tokens" -H 'Content-Type: application/json' \
    -d "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":\"admin\",\"domain\":{\"name\":\"Default\"},\"password\":\"$OS_PASSWORD\"}}}}}")
  [ "$code" = 201 ] || { log "$H: Keystone issued no token (HTTP $code)"; ok=1; }
  for u in 9292 8776 8778 9696 8774; do
    curl -s -o /dev/null -m 5 "http://$A:$u/" || { log "$H: nothing answers on $A:$u"; ok=1; }
  done
  return $ok
}

case ${1:-} in
  up) os_up ;;
  down) os_down; log "openstack: down" ;;
  status) os_status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
