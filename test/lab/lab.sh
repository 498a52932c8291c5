#!/usr/bin/env bash
# The osbackup lab: controller hosts as network namespaces on a bridge, each with its own
# sshd (key auth only, host key made at bring-up and pinned in the generated config) and its
# own mariadbd (binlog on). ctl1 holds OpenStack-shaped data; ctl2 is a restore target.
#
#   test/lab/lab.sh up      tear down leftovers, then bring the lab up; writes $LAB_DIR/osbackup.yml
#   test/lab/lab.sh down    stop everything the lab started; leaves nothing behind
#   test/lab/lab.sh status  exit 0 when every host answers SSH and MariaDB
#
# Knobs: LAB_DIR (default <clone>/.dev/lab), LAB_ROWS (nova.instances rows, default 20000
# ≈ 40 MB of InnoDB data; 800000 ≈ 1.3 GB for benchmarks), LAB_NET (default 10.231.77),
# LAB_GALERA=1 (also bring up the three-node Galera cluster of galera.sh).
# LAB_OPENSTACK=1 (also the OpenStack cloud os1, test/lab/openstack.sh: ~3 GB RSS; ./dev test and
# ./dev bench set it).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
LAB_DIR=${LAB_DIR:-$root/.dev/lab}
LAB_ROWS=${LAB_ROWS:-20000}
LAB_NET=${LAB_NET:-10.231.77}
HOSTS=(ctl1 ctl2)                # bare hosts: sshd + mariadbd
ALL_HOSTS=(ctl1 ctl2 ctl3)       # ctl3 is Kolla-style: sshd + dockerd + a `mariadb` container
declare -A IP=([ctl1]=$LAB_NET.11 [ctl2]=$LAB_NET.12 [ctl3]=$LAB_NET.13 [os1]=$LAB_NET.14 [os2]=$LAB_NET.15)   # os1 (os2): test/lab/openstack.sh
SW=osb-sw
log() { printf '[lab %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need() {
  local missing=()
  for c in ip sshd ssh-keygen mariadbd mariadb-install-db mariadb mariabackup mbstream zstd gpg setsid unshare; do
    command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || missing+=("$c")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing commands: ${missing[*]} (run ./dev setup)"
}

down() {
  # the OpenStack cloud (and a second one someone tried beside it) is stopped whenever it is there
  for o in os1 os2; do
    if ip netns list | grep -qw "osb-$o" || [ -d "$LAB_DIR/$o" ]; then OS_LAB_HOST=$o "$here/openstack.sh" down; fi
  done
  # the Galera cluster's nodes (galera.sh) hang off the same bridge: they go first
  if ip netns list | grep -qw osb-gal1 || [ -d "$LAB_DIR/galera" ]; then "$here/galera.sh" down || true; fi
  for h in "${ALL_HOSTS[@]}"; do
    ns=osb-$h
    if ip netns list | grep -qw "$ns"; then
      # every process the lab started in the host lives in its namespace: sshd, mariadbd,
      # and anything started over SSH (a restored mariadbd)
      pids=$(ip netns pids "$ns" 2>/dev/null || true)
      [ -n "$pids" ] && kill -TERM $pids 2>/dev/null || true
      for _ in $(seq 1 100); do
        pids=$(ip netns pids "$ns" 2>/dev/null || true); [ -z "$pids" ] && break; sleep 0.1
      done
      [ -n "$pids" ] && kill -KILL $pids 2>/dev/null || true
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
  ip netns list | grep -qw "$SW" && ip netns del "$SW" || true
  # /etc/kolla was only a mount point for ctl3's private bind mount; remove it if the lab made it
  if [ -f "$LAB_DIR/.made-etc-kolla" ]; then rmdir /etc/kolla 2>/dev/null || true; fi
  ip link del osb-root 2>/dev/null || true
  if [ -d "$LAB_DIR/operator-gnupg" ]; then gpgconf --homedir "$LAB_DIR/operator-gnupg" --kill all 2>/dev/null || true; fi
  if [ -d "$LAB_DIR/state/gnupg" ]; then gpgconf --homedir "$LAB_DIR/state/gnupg" --kill all 2>/dev/null || true; fi
  rm -rf "$LAB_DIR"
}

net_up() {
  ip netns add $SW
  ip -n $SW link set lo up
  ip -n $SW link add br0 type bridge
  ip -n $SW link set br0 up
  for h in "${ALL_HOSTS[@]}"; do
    ip netns add osb-$h
    ip -n osb-$h link set lo up
    ip link add osb-$h-p type veth peer name eth0 netns osb-$h
    ip link set osb-$h-p netns $SW
    ip -n $SW link set osb-$h-p master br0 up
    ip -n osb-$h addr add ${IP[$h]}/24 dev eth0
    ip -n osb-$h link set eth0 up
  done
  # The worker and tests run in the root namespace and reach the hosts through this veth.
  ip link add osb-root type veth peer name osb-root-p netns $SW
  ip -n $SW link set osb-root-p master br0 up
  ip addr add $LAB_NET.1/24 dev osb-root
  ip link set osb-root up
}

# ssh_config_for <host> [host key file]: a new host key under the host's folder, unless one is given
# (openstack.sh keeps its cloud's key outside the folder it wipes: the host's identity survives)
ssh_config_for() {
  local h=$1; local d=$LAB_DIR/$h key=${2:-}
  mkdir -p "$d/ssh"
  if [ -z "$key" ]; then key=$d/ssh/host_ed25519; ssh-keygen -q -t ed25519 -N '' -C "$h-host" -f "$key"; fi
  cat > "$d/ssh/sshd_config" <<CFG
Port 22
ListenAddress ${IP[$h]}
HostKey $key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile $LAB_DIR/keys/authorized_keys
UsePAM no
StrictModes no
PrintMotd no
PidFile $d/ssh/sshd.pid
CFG
}

ssh_up() {
  local h=$1; local d=$LAB_DIR/$h
  ssh_config_for "$h" "${2:-}"
  # sshd needs /run/sshd; a private /run in a private mount namespace avoids touching the host's
  ip netns exec osb-$h unshare -m --propagation private sh -c \
    "mount -t tmpfs -o mode=755 osb-run /run && mkdir -m 755 /run/sshd && exec /usr/sbin/sshd -f $d/ssh/sshd_config -E $d/ssh/sshd.log"
}

# mycnf_server <host> <server id> <user>: the [mariadbd] lines every bare lab server shares — all
# its files under the host's folder, listening on the host's address, binlog on
mycnf_server() {
  local d=$LAB_DIR/$1
  printf '%s\n' "[mariadbd]" "user=$3" "datadir=$d/data" "socket=$d/mysqld.sock" "pid-file=$d/mysqld.pid" "log-error=$d/mysqld.err" \
    "tmpdir=$d/tmp" "bind-address=${IP[$1]}" "port=3306" "server_id=$2" "log_bin=$d/binlog/mysql-bin"
}

db_up() {
  local h=$1 sid=$2 pool=$3; local d=$LAB_DIR/$h
  mkdir -p "$d/data" "$d/binlog" "$d/tmp"
  { printf '%s\n' "[client]" "socket=$d/mysqld.sock" "user=root"
    mycnf_server "$h" "$sid" root
    cat <<CNF
skip-name-resolve
innodb_buffer_pool_size=$pool
innodb_log_file_size=256M
innodb_flush_log_at_trx_commit=2
binlog_format=ROW
sync_binlog=0
max_allowed_packet=64M
CNF
  } > "$d/my.cnf"
  mariadb-install-db --defaults-file="$d/my.cnf" --auth-root-authentication-method=socket --skip-test-db >"$d/install.log" 2>&1 || { tail "$d/install.log" >&2; die "mariadb-install-db failed on $h"; }
  ip netns exec osb-$h "$here/db.sh" start "$d" || die "mariadbd did not start on $h"
}

up() {
  need
  down
  log "network: ${ALL_HOSTS[*]} on $LAB_NET.0/24 (bridge in $SW, root namespace at $LAB_NET.1)"
  mkdir -p "$LAB_DIR"/{keys,secrets,state}  # the repository is created by osbackup itself (0700)
  chmod 700 "$LAB_DIR" "$LAB_DIR/secrets" "$LAB_DIR/keys"
  net_up
  ssh-keygen -q -t ed25519 -N '' -C osbackup-worker -f "$LAB_DIR/keys/worker_ed25519"
  cp "$LAB_DIR/keys/worker_ed25519.pub" "$LAB_DIR/keys/authorized_keys"
  head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$LAB_DIR/secrets/db-password"
  head -c 32 /dev/urandom | base64 > "$LAB_DIR/secrets/backup-passphrase"
  # LAB_PAYLOAD_KEY_FILE: a fixed key, so the histories a run leaves can be kept as replay fixtures
  if [ -n "${LAB_PAYLOAD_KEY_FILE:-}" ]; then cp "$LAB_PAYLOAD_KEY_FILE" "$LAB_DIR/secrets/payload.key"
  else head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$LAB_DIR/secrets/payload.key"; fi
  chmod 600 "$LAB_DIR"/secrets/*
  # The OpenStack cloud (os1) takes longest and needs only the bridge, the keys and the secrets:
  # it comes up beside the rest and is waited for at the end. LAB_OPENSTACK=1 (./dev test sets it)
  OSP=""
  if [ "${LAB_OPENSTACK:-0}" = 1 ]; then
    log "openstack: os1 in the background (log $LAB_DIR/openstack-up.log)"
    # its own process group, so a failing bring-up here stops it too (its chains are subshells)
    setsid "$here/openstack.sh" up >"$LAB_DIR/openstack-up.log" 2>&1 & OSP=$!
    trap '[ -z "$OSP" ] || kill -TERM -- -"$OSP" 2>/dev/null || true' EXIT
  fi
  for h in "${HOSTS[@]}"; do ssh_up "$h"; done
  # RabbitMQ: ctl2's broker is the cloud's (populated), ctl1's an empty one to restore into;
  # Erlang boots slowly, so they start now and are waited for at the end
  log "rabbitmq: brokers on ctl2 (the cloud's) and ctl1 (empty, a restore target), in the background"
  (rmq_start osb-ctl2 "$LAB_DIR/ctl2" "${IP[ctl2]}" && rmq_populate osb-ctl2 "$LAB_DIR/ctl2") >"$LAB_DIR/rabbitmq-ctl2.log" 2>&1 & rq2=$!
  (rmq_start osb-ctl1 "$LAB_DIR/ctl1" "${IP[ctl1]}") >"$LAB_DIR/rabbitmq-ctl1.log" 2>&1 & rq1=$!
  log "swift: an S3 store (s3api + tempauth) on ctl1:8080, in the background"
  (swift_start osb-ctl1 "$LAB_DIR/ctl1" "${IP[ctl1]}" 8080) >"$LAB_DIR/swift.log" 2>&1 & sw=$!
  kolla_rootfs
  kolla_host_up
  log "mariadb: ctl1 (source) and ctl2 (restore target)"
  db_up ctl1 1 384M & p1=$!
  db_up ctl2 2 256M & p2=$!
  wait $p1 || die "ctl1 database failed"; wait $p2 || die "ctl2 database failed"
  local pw; pw=$(cat "$LAB_DIR/secrets/db-password")
  local m1=(mariadb --defaults-file="$LAB_DIR/ctl1/my.cnf")
  "${m1[@]}" < "$here/schema.sql"
  log "loading $LAB_ROWS nova.instances rows (and the tables scaled from it) into ctl1"
  bash "$here/load.sql.sh" "$LAB_ROWS" | "${m1[@]}" -D keystone
  "${m1[@]}" <<SQL
SET SESSION sql_log_bin=0;
CREATE USER 'osbackup'@'localhost' IDENTIFIED BY '$pw';
CREATE USER 'osbackup'@'%' IDENTIFIED BY '$pw';
GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR, SELECT ON *.* TO 'osbackup'@'localhost', 'osbackup'@'%';
-- logical dumps (backup dump): views, triggers, events
GRANT SHOW VIEW, TRIGGER, EVENT ON *.* TO 'osbackup'@'localhost', 'osbackup'@'%';
SQL
  # a few logged changes so the backup records a real binlog position and GTID
  "${m1[@]}" -e "UPDATE keystone.project SET description='touched by lab' WHERE name IN ('project-1','project-2'); FLUSH BINARY LOGS;"
  # a clean restart checkpoints the bulk load: otherwise the first incremental would start from
  # the pre-load checkpoint LSN and carry every page
  "$here/db.sh" stop "$LAB_DIR/ctl1" && ip netns exec osb-ctl1 "$here/db.sh" start "$LAB_DIR/ctl1"
  # ctl2 starts with data of its own, which a restore must replace (and keep aside)
  mariadb --defaults-file="$LAB_DIR/ctl2/my.cnf" -e "CREATE DATABASE stale_before_restore; CREATE TABLE stale_before_restore.t (id int primary key); INSERT INTO stale_before_restore.t VALUES (1);"

  log "operator OpenPGP key (the public half is a config recipient)"
  mkdir -m 700 "$LAB_DIR/operator-gnupg"
  gpg --homedir "$LAB_DIR/operator-gnupg" --batch --quiet --passphrase '' --quick-gen-key 'osbackup lab operator <ops@lab.invalid>' ed25519 cert never 2>>"$LAB_DIR/gpg.log"
  fpr=$(gpg --homedir "$LAB_DIR/operator-gnupg" --batch --with-colons --list-keys 2>>"$LAB_DIR/gpg.log" | awk -F: '/^fpr/ {print $10; exit}')
  gpg --homedir "$LAB_DIR/operator-gnupg" --batch --quiet --passphrase '' --quick-add-key "$fpr" cv25519 encr never 2>>"$LAB_DIR/gpg.log"
  gpg --homedir "$LAB_DIR/operator-gnupg" --batch --armor --export "$fpr" > "$LAB_DIR/keys/operator.asc" 2>>"$LAB_DIR/gpg.log"

  log "ctl3: Docker engine and the mariadb container (Kolla-style)"
  kolla_mariadb_up

  log "ctl2: a bare Keystone's keys (the same set as ctl3's container, another owner)"
  mkdir -p "$LAB_DIR/ctl2/keystone"
  cp -a "$LAB_DIR/ctl3/etc-kolla/keystone/fernet-keys" "$LAB_DIR/ctl3/etc-kolla/keystone/credential-keys" "$LAB_DIR/ctl2/keystone/"
  chown -R 65534:65534 "$LAB_DIR/ctl2/keystone"
  chmod 700 "$LAB_DIR/ctl2/keystone"/*

  wait $rq2 || { cat "$LAB_DIR/rabbitmq-ctl2.log" >&2; die "the RabbitMQ broker on ctl2 did not come up"; }
  wait $rq1 || { cat "$LAB_DIR/rabbitmq-ctl1.log" >&2; die "the RabbitMQ broker on ctl1 did not come up"; }
  wait $sw || { cat "$LAB_DIR/swift.log" >&2; die "Swift on ctl1 did not come up"; }
  if [ -n "$OSP" ]; then
    wait "$OSP" || { OSP=""; tail -n 30 "$LAB_DIR/openstack-up.log" >&2; die "the lab's OpenStack cloud (os1) did not come up (log $LAB_DIR/openstack-up.log, services' logs in $LAB_DIR/os1/log)"; }
    OSP=""
    tail -n 1 "$LAB_DIR/openstack-up.log" >&2
  fi
  write_config
  # opt-in while its cost is weighed: ~2 min more (three nodes, two SSTs, a container)
  if [ "${LAB_GALERA:-0}" = 1 ]; then log "galera: a three-node cluster in osb-gal1..3 (LAB_GALERA=1)"; "$here/galera.sh" up || die "the Galera cluster did not come up"; fi
  status || die "lab did not come up (see $LAB_DIR/*/mysqld.err and ssh/sshd.log)"
  log "up: config $LAB_DIR/osbackup.yml"
}

fp() { ssh-keygen -lf "$LAB_DIR/$1/ssh/host_ed25519.pub" | awk '{print $2}'; }

# The config's blocks every lab cloud repeats, at <indent> spaces. host_yaml <name> <indent>
# [host key .pub]: how the worker reaches a host (address, the worker's key, the fingerprint
# pinned from the host key); the caller writes the host's own sections after it.
host_yaml() {
  local n=$1 p pub=${3:-$LAB_DIR/$1/ssh/host_ed25519.pub}; p=$(printf '%*s' "$2" '')
  printf '%s\n' "$p$n:" "$p  address: ${IP[$n]}" "$p  port: 22" "$p  user: root" "$p  keyFile: $LAB_DIR/keys/worker_ed25519" \
    "$p  hostKeyFingerprint: \"$(ssh-keygen -lf "$pub" | awk '{print $2}')\""
}

# bare_mariadb_yaml <host dir> <indent>: a bare host's mariadbd, run by db.sh with its state under <host dir>
bare_mariadb_yaml() {
  local d=$1 p; p=$(printf '%*s' "$2" '')
  printf '%s\n' "${p}containerRuntime: none" "${p}mariadb:" "$p  defaultsFile: $d/my.cnf" "$p  datadir: $d/data" \
    "$p  stopCommand: [$here/db.sh, stop, $d]" "$p  startCommand: [$here/db.sh, start, $d]" "$p  restoreDir: $d/restore"
}

# kolla_mariadb_yaml <host dir> <uid:gid> <indent>: a Kolla-style host's `mariadb` container (datadir = its volume)
kolla_mariadb_yaml() {
  local d=$1 p; p=$(printf '%*s' "$3" '')
  printf '%s\n' "${p}containerRuntime: docker" "${p}containers: { mariadb: mariadb }" "${p}mariadb:" "$p  defaultsFile: /etc/mysql/my.cnf" \
    "$p  datadir: $d/volume" "$p  owner: \"$2\"" "$p  stopCommand: [docker, stop, mariadb]" "$p  startCommand: [docker, start, mariadb]" "$p  restoreDir: $d/restore"
}

write_config() {
  local tables="[keystone.project, keystone.user, nova.instances, cinder.volumes, glance.images, neutron.ports]"
  {
    cat <<YML
# Written by test/lab/lab.sh for the lab it brought up. Secrets are references only.
temporal:
  address: ${OSBACKUP_TEMPORAL_ADDRESS:-127.0.0.1:7233}
  namespace: ${OSBACKUP_TEMPORAL_NAMESPACE:-osbackup}
  taskQueue: osbackup
  uiUrl: http://127.0.0.1:8233
  payloadKey: { file: $LAB_DIR/secrets/payload.key }
repository:
  path: $LAB_DIR/repo
encryption:
  passphrase: { file: $LAB_DIR/secrets/backup-passphrase }
  recipientKeyFiles: [$LAB_DIR/keys/operator.asc]
stateDir: $LAB_DIR/state
worker:
  shutdownGraceSeconds: 30   # suites stop their workers between runs; the drain test sets its own
defaultCloud: lab
clouds:
  lab:
    database:
      host: ctl1
      user: osbackup
      password: { file: $LAB_DIR/secrets/db-password }
      verifyTables: $tables
    hosts:
YML
    for h in "${HOSTS[@]}"; do host_yaml "$h" 6; bare_mariadb_yaml "$LAB_DIR/$h" 8; done
    kolla_config
    # the third cloud, written by openstack.sh up
    if [ -s "$LAB_DIR/os1/cloud.yml" ]; then cat "$LAB_DIR/os1/cloud.yml"; fi
    # its rebuild commands (drRebuildWorkflow's dr section), once the config schema knows that section
    if [ -s "$LAB_DIR/os1/dr.yml" ] && [ -f "$root/config/dr-schema.ts" ]; then cat "$LAB_DIR/os1/dr.yml"; fi
  } > "$LAB_DIR/osbackup.yml"
}

status() {
  local ok=0
  if ! on3 /usr/bin/docker exec mariadb mariadb-admin ping >/dev/null 2>&1; then log "ctl3: the mariadb container is not answering"; ok=1; fi
  if ! on3 "test -s /etc/kolla/globals.yml && docker exec keystone test -s /etc/keystone/fernet-keys/0"; then log "ctl3: the Kolla tree or the keystone container's keys are missing"; ok=1; fi
  for h in "${HOSTS[@]}"; do
    if ! rmq_ctl osb-$h "$LAB_DIR/$h" -q status >/dev/null 2>&1; then log "$h: RabbitMQ not answering"; ok=1; fi
    if ! timeout 5 bash -c "exec 3<>/dev/tcp/${IP[$h]}/22" 2>/dev/null; then log "$h: sshd not reachable at ${IP[$h]}:22"; ok=1; continue; fi
    if ! ssh -q -i "$LAB_DIR/keys/worker_ed25519" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@"${IP[$h]}" \
        "mariadb-admin --defaults-file=$LAB_DIR/$h/my.cnf ping" >/dev/null 2>&1; then log "$h: MariaDB not answering over SSH"; ok=1; fi
  done
  if [ -d "$LAB_DIR/galera" ] && ! "$here/galera.sh" status; then ok=1; fi
  if [ -d "$LAB_DIR/os1" ] && ! "$here/openstack.sh" status; then ok=1; fi
  return $ok
}

source "$here/kolla.sh"
source "$here/rabbitmq.sh"
source "$here/swift.sh"

# test/lab/openstack.sh sources this file for its functions (net, sshd, MariaDB) and stops here
[[ ${BASH_SOURCE[0]} == "$0" ]] || return 0

case ${1:-} in
  up) up ;;
  down) down; log "down: nothing left" ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
