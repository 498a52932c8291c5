#!/usr/bin/env bash
# The lab's OpenStack cloud: real Zed services from Debian's packages in their own controller
# namespace osb-os1 (on the lab bridge, address $LAB_NET.14), with its own sshd and MariaDB
# (lab.sh's functions), so the services' databases are a third cloud osbackup backs up.
#
# Deployed the Kolla way: a config tree on the deploy host ctl3 ($LAB_DIR/os1-kolla, that cloud's
# /etc/kolla: globals.yml, passwords.yml, inventory, admin-openrc.sh, keystone/ glance/ cinder/
# nova/ placement/ neutron/ with each service's config files) is the source of truth; the phases
# below read only the tree they are given, so a rebuild from a restored tree (drRebuildWorkflow)
# runs the very commands a fresh bring-up runs:
#
#   test/lab/openstack.sh up       a fresh cloud: stop and remove the old one, write a new tree
#                                  (new passwords), then the three phases with schemas + bootstrap
#   test/lab/openstack.sh bootstrap-servers <tree>  namespace + sshd with the host's kept host key
#   test/lab/openstack.sh deploy-mariadb <tree>     an empty MariaDB (root + osbackup), ready for a restore
#   test/lab/openstack.sh deploy-services <tree>    RabbitMQ + every service from the tree's files; the
#                                  schemas must be there (a restored database): no db_sync, no bootstrap
#   test/lab/openstack.sh wipe     the control-plane host is lost: every process, $LAB_DIR/os1 and
#                                  the deploy host's tree go; "external" storage and the host key stay
#   test/lab/openstack.sh down     wipe + the external storage: nothing of the cloud is left
#   test/lab/openstack.sh status   exit 0 when Keystone issues a token and every API answers
#
# Every phase is idempotent (what runs stays running) and fails with the cause when the tree or a
# file it needs is missing or disagrees with itself or with the restored database.
#
# What survives `wipe` (a real cloud keeps it off the control-plane host): $LAB_DIR/os1-storage/
# {nfs-export,cinder-backups} (Kolla clouds keep volumes on external NFS/Ceph) and the sshd host
# key $LAB_DIR/keys/os1-host_ed25519 (the provisioning restores a host's identity; osbackup pins
# its fingerprint). Glance's file store is on the host ($LAB_DIR/os1/srv/glance): images are lost
# with it and come back from osbackup's image backups.
#
# Services: Keystone (uwsgi, fernet), Glance (file store), Cinder API/scheduler/volume (NFS driver
# on a bind-mounted folder: no device-mapper here, so no LVM) + cinder-backup (posix), RabbitMQ,
# Placement (uwsgi), an API-only neutron-server, Nova API/conductor/scheduler/compute with a fake
# virt driver (oslab_fake.py beside this file) whose snapshots upload data. It touches nothing of
# ctl1..ctl3 (the tree is a folder of the shared filesystem ctl3 sees). Knobs: OS_UP_TIMEOUT (s,
# default 240), OS_LAB_HOST.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.sh
source "$here/lab.sh"
OS_UP_TIMEOUT=${OS_UP_TIMEOUT:-240}
T0=${EPOCHREALTIME/./}
took() { local d=$(( ${EPOCHREALTIME/./} - T0 )); printf '%d.%01ds' $((d / 1000000)) $((d % 1000000 / 100000)); }
SERVICES=(keystone glance cinder nova placement neutron)
# the files deploy-services needs from the tree (besides globals.yml, inventory, passwords.yml)
SERVICE_FILES=(keystone/keystone.conf keystone/uwsgi.ini glance/glance-api.conf cinder/cinder.conf cinder/nfs_shares
  nova/nova.conf placement/placement.conf placement/uwsgi.ini neutron/neutron.conf)
DATABASES=(keystone glance cinder nova nova_api nova_cell0 placement neutron)

# set_host <name>: where that cloud's parts are. OS_LAB_HOST=os2: a second cloud beside a running
# os1 (to try changes to this script without stopping the one tests use); the phases take the
# name from their tree's inventory.
set_host() {
  H=$1; NS=osb-$H; A=${IP[$H]:-}; D=$LAB_DIR/$H
  [ -n "$A" ] || die "the lab has no address for host $H (lab.sh's hosts: ${!IP[*]})"
  K=$LAB_DIR/$H-kolla            # the deploy host's (ctl3's) /etc/kolla for this cloud
  S=$LAB_DIR/$H-storage          # external storage: NFS export of the volumes, cinder-backup's store
  HK=$LAB_DIR/keys/$H-host_ed25519
}
set_host "${OS_LAB_HOST:-os1}"
inns() { ip netns exec "$NS" "$@"; }
alive() { [ -s "$D/run/$1.pid" ] && kill -0 "$(cat "$D/run/$1.pid")" 2>/dev/null; }
mdb() { mariadb --defaults-file="$D/my.cnf" "$@"; }
# yget <file> <key>: a top-level scalar of a flat YAML file (globals.yml, passwords.yml)
yget() { awk -v k="$2" 'index($0, k ":") == 1 { v = substr($0, length(k) + 2); sub(/^[ \t]+/, "", v); sub(/[ \t]+#.*$/, "", v); gsub(/^"|"$/, "", v); print v; f = 1; exit } END { exit !f }' "$1"; }

# tree_read <tree> [files…]: checks the tree has globals.yml, inventory and the files named, that
# they describe a host of this lab, and points H/A/D at it; TREE is the tree
tree_read() {
  local k=${1:-} f line name addr vip labdir
  [ -n "$k" ] || die "name the cloud's Kolla config tree (e.g. $LAB_DIR/os1-kolla)"
  [ -d "$k" ] || die "no Kolla config tree at $k: restore it first (osbackup restore config --cloud openstack --to ctl3 --path $k)"
  shift
  for f in globals.yml inventory "$@"; do
    [ -s "$k/$f" ] || die "$k/$f is missing or empty: the Kolla config tree is incomplete (restore it: osbackup restore config --cloud openstack --to ctl3 --path $k)"
  done
  line=$(awk '/^\[control\]/ {f = 1; next} /^\[/ {f = 0} f && NF && !/^#/ {print; exit}' "$k/inventory")
  name=${line%% *}; addr=$(sed -n 's/.*ansible_host=\([^ ]*\).*/\1/p' <<<"$line")
  [ -n "$name" ] && [ -n "$addr" ] || die "$k/inventory names no host (with ansible_host=) under [control]"
  vip=$(yget "$k/globals.yml" kolla_internal_vip_address) || die "$k/globals.yml has no kolla_internal_vip_address"
  [ "$vip" = "$addr" ] || die "$k/inventory puts $name at $addr, but globals.yml's kolla_internal_vip_address is $vip"
  [ "${IP[$name]:-}" = "$addr" ] || die "$k/inventory puts $name at $addr; this lab's network has ${IP[$name]:-no such host}"
  labdir=$(yget "$k/globals.yml" osb_lab_dir) || die "$k/globals.yml has no osb_lab_dir"
  [ "$labdir" = "$LAB_DIR" ] || die "$k was written for the lab in $labdir, not this one ($LAB_DIR)"
  set_host "$name"
  TREE=$k
}

# pw <key>: a value of the tree's passwords.yml
pw() { yget "$TREE/passwords.yml" "$1" || die "$TREE/passwords.yml has no $1"; }

os_stop() {
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
  local m
  for m in "$D"/srv/cinder/mnt/*; do mountpoint -q "$m" && umount "$m"; done
  # never delete through the bind mount of the external NFS export
  for m in "$D"/srv/cinder/mnt/*; do mountpoint -q "$m" && die "$m is still mounted: $D not removed"; done
  return 0
}

# a cloud brought up before the host key moved out of $D keeps its identity
keep_host_key() {
  if [ ! -s "$HK" ] && [ -s "$D/ssh/host_ed25519" ]; then cp -p "$D/ssh/host_ed25519" "$HK" && cp -p "$D/ssh/host_ed25519.pub" "$HK.pub"; fi
}

os_wipe() {
  keep_host_key
  os_stop
  rm -rf --one-file-system "$D" "$K"
}

os_down() { os_wipe; rm -rf "$S" "$LAB_DIR/.$H-deploy.lock"; }

os_net() {
  ip netns list | grep -qw "$SW" || die "no lab bridge ($SW): bring the lab up first (test/lab/lab.sh up)"
  ip netns list | grep -qw "$NS" || { ip netns add "$NS"; ip -n "$NS" link set lo up; }
  ip -n "$NS" link show eth0 >/dev/null 2>&1 && return 0
  ip -n "$SW" link del "$NS-p" 2>/dev/null || true
  # the NIC's MAC is the host's own (from its address), as a reinstalled server keeps its NIC's:
  # the worker's neighbour cache stays right across a rebuild (a random one leaves it pointing at
  # the lost host's MAC for half a minute); an older entry is dropped all the same
  local mac; mac=$(printf '02:0b:%02x:%02x:%02x:%02x' ${A//./ })
  ip link add "$NS-p" type veth peer name eth0 address "$mac" netns "$NS"
  ip neigh flush to "$A" 2>/dev/null || true
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

# run <name> <command…>: a service inside the namespace, detached, its pid in run/; one already
# running is left alone (deploy-services is idempotent)
run() { local n=$1; shift; alive "$n" && return 0; inns setsid "$@" </dev/null >"$D/log/$n.out" 2>&1 8>&- & echo $! > "$D/run/$n.pid"; }

# phase_lock: one phase of a host at a time (a retry after the caller was killed waits for the
# orphaned run, then finds its work done). Fd 8 holds the lock: every daemon is started with it
# closed, so none keeps it.
phase_lock() {
  exec 8>"$LAB_DIR/.$H-deploy.lock"
  flock -w "$OS_UP_TIMEOUT" 8 || die "another phase on $H still runs (lock $LAB_DIR/.$H-deploy.lock)"
}

# write_service_configs <tree>: every service's config files into <tree>/<service>/ (Kolla's
# /etc/kolla/<service>/); deploy-services copies them to $D/etc/<service>/, the paths they name
write_service_configs() {
  local k=$1
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
  cat > "$k/keystone/keystone.conf" <<EOF
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
  cat > "$k/keystone/uwsgi.ini" <<EOF
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
  cat > "$k/glance/glance-api.conf" <<EOF
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
  # the volumes and the volume backups live on "external" storage ($S, outside $D): wipe keeps them
  echo "127.0.0.1:$S/nfs-export" > "$k/cinder/nfs_shares"
  # periodic_interval: the volume service publishes its pools every 10 s, else the scheduler
  # knows no backend for a minute or two
  cat > "$k/cinder/cinder.conf" <<EOF
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
backup_posix_path = $S/cinder-backups
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
  cat > "$k/placement/placement.conf" <<EOF
[DEFAULT]
log_file = $D/log/placement.log
[placement_database]
connection = $db/placement
[api]
auth_strategy = keystone
$(authtoken placement)
EOF
  cat > "$k/placement/uwsgi.ini" <<EOF
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
  cat > "$k/neutron/neutron.conf" <<EOF
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
  cat > "$k/nova/nova.conf" <<EOF
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
}

rnd() { head -c 18 /dev/urandom | base64 | tr -d '/+='; }

# write_tree <tree>: a new cloud's Kolla tree (what kolla-genpwd + kolla-ansible leave in /etc/kolla)
write_tree() {
  local k=$1
  DBPW=$(rnd); MQPW=$(rnd); SPW=$(rnd); APW=$(rnd)
  rm -rf "$k"
  (umask 077
  mkdir -p "$k"; for s in "${SERVICES[@]}"; do mkdir -p "$k/$s"; done
  cat > "$k/globals.yml" <<EOF
---
# $H, the lab's one-node OpenStack (test/lab/openstack.sh), in the shape of Kolla-Ansible's globals.yml.
# deploy-services puts <service>/'s files in place as Kolla's containers copy /etc/kolla/<service>/.
kolla_base_distro: "debian"
openstack_release: "zed"
kolla_internal_vip_address: "$A"
network_interface: "eth0"
openstack_region_name: "RegionOne"
enable_haproxy: "no"
enable_mariadb: "yes"
enable_rabbitmq: "yes"
enable_keystone: "yes"
keystone_token_provider: "fernet"
enable_glance: "yes"
glance_backend_file: "yes"
enable_cinder: "yes"
enable_cinder_backend_nfs: "yes"
enable_cinder_backup: "yes"
enable_neutron: "yes"
enable_nova: "yes"
enable_placement: "yes"
# the lab's own keys (not Kolla's): the lab this tree belongs to; the volumes' external storage
osb_lab_dir: "$LAB_DIR"
osb_external_storage: "$S"
EOF
  cat > "$k/passwords.yml" <<EOF
---
# $H's secrets (Kolla's names where Kolla has one; the lab uses one database account and one
# Keystone password for all of its services). The service configs below carry the same values.
keystone_admin_password: "$APW"
openstack_database_password: "$DBPW"
service_keystone_password: "$SPW"
rabbitmq_user: "openstack"
rabbitmq_password: "$MQPW"
EOF
  cat > "$k/inventory" <<EOF
# $H: an all-in-one cloud (Kolla-Ansible's all-in-one inventory, one host in every group)
[control]
$H ansible_host=$A ansible_user=root

[network:children]
control

[compute:children]
control

[storage:children]
control

[monitoring:children]
control

[deployment]
ctl3 ansible_host=${IP[ctl3]}
EOF
  cat > "$k/admin-openrc.sh" <<EOF
export OS_AUTH_URL=http://$A:5000/v3 OS_USERNAME=admin OS_PASSWORD=$APW OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_IDENTITY_API_VERSION=3
export OS_REGION_NAME=RegionOne OS_INTERFACE=public
EOF
  write_service_configs "$k")
}

# every password a service config carries must be passwords.yml's: a tree that disagrees with
# itself is refused before anything starts
tree_check() {
  local bad=() f
  for f in keystone/keystone.conf glance/glance-api.conf cinder/cinder.conf nova/nova.conf placement/placement.conf neutron/neutron.conf; do
    grep '^connection = ' "$TREE/$f" | grep -vqF "connection = mysql+pymysql://openstack:$DBPW@$A/" && bad+=("$f's database connection")
    grep -q '^transport_url' "$TREE/$f" && ! grep -qF "transport_url = rabbit://$MQUSER:$MQPW@$A:5672/" "$TREE/$f" && bad+=("$f's transport_url")
    grep '^password = ' "$TREE/$f" | grep -vqxF "password = $SPW" && bad+=("$f's service password")
  done
  grep -qF "OS_PASSWORD=$APW " "$TREE/admin-openrc.sh" || bad+=("admin-openrc.sh's OS_PASSWORD")
  [ ${#bad[@]} -eq 0 ] || die "the tree $TREE disagrees with its passwords.yml: ${bad[*]}"
  return 0
}

need_os() {
  local c
  for c in keystone-manage glance-api cinder-volume cinder-backup nova-compute neutron-server placement-api uwsgi openstack mount.nfs; do
    command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || [ -x "/sbin/$c" ] || die "missing $c (run ./dev setup: the OpenStack packages are in APT_PACKAGES)"
  done
}

# the admin credentials on the host, from the tree (clouds.yaml, admin-openrc.sh)
write_client_files() {
  (umask 077
  cp "$TREE/admin-openrc.sh" "$D/admin-openrc.sh"
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
  )
}

# the third lab cloud for lab.sh's write_config (osbackup backs up os1's MariaDB, the tree on ctl3
# and os1's Keystone keys), and its rebuild commands (dr.yml, merged once config/dr-schema.ts exists)
write_osbackup_files() {
  local ctl3=$LAB_DIR/ctl3/ssh/host_ed25519.pub
  # lab.sh up brings ctl3 up beside this cloud: its host key is there long before we get here
  for _ in $(seq 1 120); do [ -s "$ctl3" ] && break; sleep 0.5; done
  [ -s "$ctl3" ] || die "the deploy host ctl3 has no host key ($ctl3): is the lab up?"
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
    controlPlane:
      kolla:
        host: ctl3
        configDir: $K
        files: [globals.yml, passwords.yml, inventory, admin-openrc.sh]
        serviceDirs: [$(IFS=,; echo "${SERVICES[*]}" | sed 's/,/, /g')]
      keystoneHosts: [$H]
    hosts:
EOF
  { host_yaml "$H" 6 "$HK.pub"; bare_mariadb_yaml "$D" 8; echo "        keystone: { keysDir: $D/srv/keystone }"
    host_yaml ctl3 6 "$ctl3"; echo "        containerRuntime: docker"; } >> "$D/cloud.yml"
  cat > "$D/dr.yml" <<EOF
    dr:
      runOn: worker
      commands:
        bootstrapServers: [$here/openstack.sh, bootstrap-servers, "{configDir}"]
        deployMariadb: [$here/openstack.sh, deploy-mariadb, "{configDir}"]
        deployServices: [$here/openstack.sh, deploy-services, "{configDir}"]
EOF
  # The DR drill's isolated host: ctl2's MariaDB (a scratch restore target of the lab anyway),
  # never os1's own server, which the cloud's services use. lab.sh up makes ctl2's host key
  # while this runs in the background: wait for it; without it the cloud gets no drill section.
  local k=$LAB_DIR/ctl2/ssh/host_ed25519.pub
  for _ in $(seq 1 120); do [ -s "$k" ] && break; sleep 0.5; done
  if [ ! -s "$k" ]; then log "openstack: no ctl2 host key ($k): the openstack cloud gets no drill section"; return 0; fi
  { host_yaml ctl2 6; bare_mariadb_yaml "$LAB_DIR/ctl2" 8; } >> "$D/cloud.yml"
  cat >> "$D/cloud.yml" <<EOF
    drill:
      host: ctl2
      # generous lab targets: the drill measures; a breach is a real regression
      rtoTargetSeconds: 600
      rpoTargetSeconds: 604800
EOF
}

os_bootstrap_servers() {
  tree_read "${1:-}"
  phase_lock
  [ -f "$LAB_DIR/keys/authorized_keys" ] || die "no $LAB_DIR/keys/authorized_keys: is LAB_DIR the running lab's folder?"
  [ -s "$HK" ] || die "$H has no host key ($HK): the provisioning restores a host's identity (osbackup pins its fingerprint); '$0 up' makes a new cloud with a new one"
  os_net
  mkdir -p "$D"; chmod 700 "$D"
  if [ -s "$D/ssh/sshd.pid" ] && kill -0 "$(cat "$D/ssh/sshd.pid")" 2>/dev/null; then log "bootstrap-servers: $H ($A) is up, its sshd runs"; return 0; fi
  ssh_up "$H" "$HK" 8>&-
  for _ in $(seq 1 50); do
    timeout 2 bash -c "exec 3<>/dev/tcp/$A/22" 2>/dev/null && { log "bootstrap-servers: $H at $A, sshd with its host key $(ssh-keygen -lf "$HK.pub" | awk '{print $2}')"; return 0; }
    sleep 0.1
  done
  die "sshd on $H ($A:22) does not answer (see $D/ssh/sshd.log)"
}

os_deploy_mariadb() {
  tree_read "${1:-}"
  phase_lock
  ip netns list | grep -qw "$NS" || die "$H is not there (no namespace $NS): run bootstrap-servers first ($0 bootstrap-servers $TREE)"
  if [ -s "$D/my.cnf" ] && "$here/db.sh" status "$D"; then log "deploy-mariadb: MariaDB on $H answers (left as it is)"; return 0; fi
  if [ -s "$D/my.cnf" ] && [ -d "$D/data/mysql" ]; then
    # a datadir is there (a restored one, say): start it, never re-initialize it
    inns "$here/db.sh" start "$D" 8>&- || die "MariaDB on $H did not start (see $D/mysqld.err)"
    log "deploy-mariadb: started the MariaDB already on $H"; return 0
  fi
  rm -rf "$D/data"
  db_up "$H" 14 256M 8>&-
  local p; p=$(cat "$LAB_DIR/secrets/db-password")
  mdb -e "CREATE USER IF NOT EXISTS 'osbackup'@'localhost' IDENTIFIED BY '$p'; CREATE USER IF NOT EXISTS 'osbackup'@'%' IDENTIFIED BY '$p';
    GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR, SELECT ON *.* TO 'osbackup'@'localhost', 'osbackup'@'%';"
  log "deploy-mariadb: an empty MariaDB on $H (root over the socket, osbackup) ($(took))"
}

# os_deploy_services <tree> [fresh]: fresh (up only) also creates the databases, syncs the schemas,
# bootstraps Keystone and registers the catalog; otherwise they must come from the restored database
os_deploy_services() {
  local fresh=${2:-}
  tree_read "${1:-}" passwords.yml admin-openrc.sh "${SERVICE_FILES[@]}"
  phase_lock
  need_os
  ip netns list | grep -qw "$NS" || die "$H is not there (no namespace $NS): run bootstrap-servers first ($0 bootstrap-servers $TREE)"
  [ -s "$D/my.cnf" ] && "$here/db.sh" status "$D" || die "MariaDB on $H does not answer: run deploy-mariadb first ($0 deploy-mariadb $TREE)"
  DBPW=$(pw openstack_database_password); MQUSER=$(pw rabbitmq_user); MQPW=$(pw rabbitmq_password)
  SPW=$(pw service_keystone_password); APW=$(pw keystone_admin_password)
  tree_check
  local x sql="" missing=()
  if [ -n "$fresh" ]; then
    for x in "${DATABASES[@]}"; do sql+="CREATE DATABASE IF NOT EXISTS $x; "; done
    mdb -e "$sql CREATE USER IF NOT EXISTS 'openstack'@'%' IDENTIFIED BY '$DBPW'; GRANT ALL ON *.* TO 'openstack'@'%';"
  else
    local have; have=$(mdb -N -e "SELECT DISTINCT table_schema FROM information_schema.tables WHERE table_schema IN ('$(IFS=,; echo "${DATABASES[*]}" | sed "s/,/','/g")')")
    for x in "${DATABASES[@]}"; do grep -qx "$x" <<<"$have" || missing+=("$x"); done
    [ ${#missing[@]} -eq 0 ] || die "the database on $H has no ${missing[*]} schema: restore the database first (osbackup restore db --cloud openstack --to $H); deploy-services creates no schema and bootstraps nothing over a rebuild"
    MYSQL_PWD=$DBPW mariadb --no-defaults -h "$A" -u openstack --connect-timeout=5 -N -e 'SELECT 1' >/dev/null 2>&1 ||
      die "passwords.yml's openstack_database_password does not open $H's database as openstack: the tree and the restored database are not of the same cloud (restore the matching control-plane backup)"
  fi
  local share export backups mnt
  share=$(head -n 1 "$TREE/cinder/nfs_shares"); export=${share#*:}
  backups=$(sed -n 's/^backup_posix_path *= *//p' "$TREE/cinder/cinder.conf")
  [[ $export == /* ]] && [[ $backups == /* ]] || die "$TREE/cinder: nfs_shares or cinder.conf's backup_posix_path names no absolute folder"
  mkdir -p "$D"/{log,run,py/virt} "$D"/srv/{keystone/fernet-keys,keystone/credential-keys,glance/images,glance/staging,glance/tasks,cinder/lock,cinder/mnt,nova/instances,nova/lock,neutron/lock} "$export" "$backups"
  chmod 700 "$D" "$D/srv/keystone/fernet-keys" "$D/srv/keystone/credential-keys"
  for x in "${SERVICES[@]}"; do mkdir -p "$D/etc/$x"; cp -pR "$TREE/$x/." "$D/etc/$x/"; done
  # the fake virt driver is code (the image's part, not config): from beside this script
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
  # where the export was before it moved out of $D (tests read volumes' bytes there)
  ln -sfn "$export" "$D/srv/nfs-export"
  write_client_files
  mnt=$D/srv/cinder/mnt/$(echo -n "$share" | md5sum | cut -d' ' -f1)
  mkdir -p "$mnt"; mountpoint -q "$mnt" || mount --bind "$export" "$mnt"
  rm -f "$D"/run/*.ready "$D"/run/*.failed
  # nova-compute's report counts from now; one already running (a second run) reports every 10 s
  local t0; t0=$(mdb -N -e "SELECT UTC_TIMESTAMP() - INTERVAL $(alive nova-compute && echo 30 || echo 0) SECOND")
  (if ! rmq_pid "$D" >/dev/null; then rmq_start "$NS" "$D" "$A" 8>&-; fi &&
    { { rmq_ctl "$NS" "$D" -q list_users | grep -q "^$MQUSER[[:space:]]" && rmq_ctl "$NS" "$D" -q change_password "$MQUSER" "$MQPW"; } ||
      rmq_ctl "$NS" "$D" -q add_user "$MQUSER" "$MQPW"; } && rmq_ctl "$NS" "$D" -q set_permissions "$MQUSER" '.*' '.*' '.*' &&
    touch "$D/run/rabbitmq.ready" || { touch "$D/run/rabbitmq.failed"; exit 1; }) >"$D/log/rabbitmq-up.log" 2>&1 &
  # Every service's chain (schema, then its processes) runs at once: each starts as soon as its
  # own schema and what it talks to are there, instead of all waiting for the slowest schema.
  # Keystone's and Nova's chains are the longest (everything waits for the catalog, Nova's schema
  # is the biggest): the other schemas sync at a lower priority on the 2 shared cores
  log "openstack: ${fresh:+schemas and }services of $H from $TREE, each as soon as what it needs is there ($(took))"
  if [ -z "$fresh" ] && [ -z "$(ls -A "$D/srv/keystone/fernet-keys")" ]; then
    log "openstack: no Fernet keys on $H: new ones until the backed-up keys are restored (osbackup restore keys)"
  fi
  local p=() C=(--config-file)
  ( (KM=(keystone-manage --config-dir "$D/etc/keystone")
    if [ -n "$fresh" ]; then "${KM[@]}" db_sync || exit 1; fi
    # no keys on a rebuilt host: new ones let Keystone start (as Kolla's deploy does); osbackup
    # restores the backed-up set next, and Keystone reads its keys at every request
    if [ -z "$(ls -A "$D/srv/keystone/fernet-keys")" ]; then "${KM[@]}" fernet_setup --keystone-user root --keystone-group root || exit 1; fi
    if [ -z "$(ls -A "$D/srv/keystone/credential-keys")" ]; then "${KM[@]}" credential_setup --keystone-user root --keystone-group root || exit 1; fi
    if [ -n "$fresh" ]; then
      "${KM[@]}" bootstrap --bootstrap-password "$APW" --bootstrap-region-id RegionOne \
        --bootstrap-admin-url "http://$A:5000/v3/" --bootstrap-internal-url "http://$A:5000/v3/" --bootstrap-public-url "http://$A:5000/v3/" || exit 1
    fi
    run keystone uwsgi --ini "$D/etc/keystone/uwsgi.ini"
    wait_http "http://$A:5000/v3" 200
    if [ -n "$fresh" ]; then (source "$D/admin-openrc.sh"; /usr/bin/python3 "$here/os_rest.py" catalog "$A" "$SPW") || exit 1; fi
    log "openstack: keystone${fresh:+ and its catalog} ($(took))"
    touch "$D/run/catalog.ready") || { touch "$D/run/catalog.failed"; exit 1; } ) >"$D/log/up-keystone.log" 2>&1 & p+=($!)
  (if [ -n "$fresh" ]; then nice -n 5 glance-manage "${C[@]}" "$D/etc/glance/glance-api.conf" db_sync || exit 1; fi
    run glance-api glance-api "${C[@]}" "$D/etc/glance/glance-api.conf") >"$D/log/up-glance.log" 2>&1 & p+=($!)
  (if [ -n "$fresh" ]; then nice -n 5 placement-manage --config-dir "$D/etc/placement" db sync || exit 1; fi
    run placement uwsgi --ini "$D/etc/placement/uwsgi.ini") >"$D/log/up-placement.log" 2>&1 & p+=($!)
  (if [ -n "$fresh" ]; then nice -n 5 cinder-manage "${C[@]}" "$D/etc/cinder/cinder.conf" db sync || exit 1; fi
    ready rabbitmq
    for s in api scheduler volume backup; do run cinder-$s cinder-$s "${C[@]}" "$D/etc/cinder/cinder.conf"; done) >"$D/log/up-cinder.log" 2>&1 & p+=($!)
  (if [ -n "$fresh" ]; then nice -n 5 neutron-db-manage "${C[@]}" "$D/etc/neutron/neutron.conf" upgrade head || exit 1; fi
    ready rabbitmq
    run neutron-server neutron-server "${C[@]}" "$D/etc/neutron/neutron.conf") >"$D/log/up-neutron.log" 2>&1 & p+=($!)
  (N=("${C[@]}" "$D/etc/nova/nova.conf")
    if [ -n "$fresh" ]; then
      nova-manage "${N[@]}" api_db sync && nova-manage "${N[@]}" cell_v2 map_cell0 &&
        nova-manage "${N[@]}" cell_v2 create_cell --name=cell1 && nova-manage "${N[@]}" db sync || exit 1
    fi
    ready rabbitmq
    # nova-conductor authenticates as the nova service user at start and exits when Keystone
    # does not know it yet: Nova's processes wait for the catalog
    ready catalog
    for s in api conductor scheduler; do run nova-$s nova-$s "${N[@]}"; done
    # nova-compute reports its resources to Placement once at start (then every minute): it
    # starts when Placement answers
    wait_http "http://$A:8778/" 200
    run nova-compute "$D/py/nova-compute-lab" "${N[@]}") >"$D/log/up-nova.log" 2>&1 & p+=($!)
  for x in "${p[@]}"; do wait "$x" || { tail -n 5 "$D"/log/up-*.log 2>/dev/null >&2; die "a service's ${fresh:+schema or }start failed (see $D/log/up-*.log)"; }; done
  wait_http "http://$A:9292/" '200|300'; wait_http "http://$A:8776/" '200|300'
  wait_http "http://$A:8778/" 200; wait_http "http://$A:9696/" 200; wait_http "http://$A:8774/" 200
  log "openstack: APIs answer; flavor, volume type, neutron warm-up, compute host, volume pool ($(took))"
  (source "$D/admin-openrc.sh"; /usr/bin/python3 "$here/os_rest.py" post) >"$D/log/post.log" 2>&1 & local pp=$!
  local ok="" next=0
  for _ in $(seq 1 $((OS_UP_TIMEOUT * 2))); do
    # cheap SQL polls; nova-manage (seconds of Python) once the compute node exists, then every 10 s
    if [ -n "$fresh" ] && [ $SECONDS -ge $next ] && [ "$(mdb -N -e 'SELECT COUNT(*) FROM nova.compute_nodes')" -gt 0 ]; then
      nova-manage --config-file "$D/etc/nova/nova.conf" cell_v2 discover_hosts >/dev/null 2>&1 || true; next=$((SECONDS + 10))
    fi
    # a host mapping (scheduling finds the host), a resource provider (Placement knows its
    # capacity) and nova-compute's report since this deploy (a restored database has old ones)
    [ "$(mdb -N -e "SELECT (SELECT COUNT(*) FROM nova_api.host_mappings) * (SELECT COUNT(*) FROM placement.resource_providers) *
      (SELECT COUNT(*) FROM nova.services WHERE \`binary\` = 'nova-compute' AND deleted = 0 AND COALESCE(updated_at, created_at) >= '$t0')")" -gt 0 ] && ok=1 && break
    sleep 0.5
  done
  [ -n "$ok" ] || die "nova-compute never registered (see $D/log/nova-compute.log)"
  ok=""
  for _ in $(seq 1 $((OS_UP_TIMEOUT / 2))); do
    [ "$(mdb -N -e "SELECT COUNT(*) FROM cinder.services WHERE topic='cinder-volume' AND disabled=0 AND updated_at > UTC_TIMESTAMP() - INTERVAL 30 SECOND")" -gt 0 ] &&
      (source "$D/admin-openrc.sh"; /usr/bin/python3 "$here/os_rest.py" pools "$H@nfs") && ok=1 && break; sleep 1
  done
  [ -n "$ok" ] || die "cinder-volume never reported its pool (see $D/log/cinder-volume.log)"
  wait $pp || { cat "$D/log/post.log" >&2; die "creating the flavor / volume type failed"; }
  os_status || die "the OpenStack services are not all answering"
  write_osbackup_files
  log "openstack: $H's services answer ($(took)); RSS of its processes: $(os_rss) MB; admin credentials in $D/clouds.yaml"
}

os_up() {
  need_os
  os_down
  [ -s "$HK" ] || ssh-keygen -q -t ed25519 -N '' -C "$H-host" -f "$HK"
  log "openstack: a new cloud on $H ($A), its Kolla tree in $K (the deploy host ctl3's), volumes in $S"
  write_tree "$K"
  os_bootstrap_servers "$K"
  os_deploy_mariadb "$K"
  os_deploy_services "$K" fresh
  log "openstack: up in $(took)"
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
  bootstrap-servers) os_bootstrap_servers "${2:-}" ;;
  deploy-mariadb) os_deploy_mariadb "${2:-}" ;;
  deploy-services) os_deploy_services "${2:-}" ;;
  wipe) os_wipe; log "openstack: $H wiped ($D and the tree $K are gone; kept: $S, $HK)" ;;
  down) os_down; log "openstack: down" ;;
  status) os_status ;;
  *) echo "usage: $0 up | bootstrap-servers|deploy-mariadb|deploy-services <Kolla tree> | wipe | down | status" >&2; exit 2 ;;
esac
