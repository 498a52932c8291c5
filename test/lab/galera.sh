#!/usr/bin/env bash
# The lab's Galera cluster: three MariaDB nodes (Debian galera-4) in controller namespaces of
# their own (osb-gal1..3 on the lab bridge, $LAB_NET.21–.23), each with its own sshd (lab.sh's
# functions), as Kolla-Ansible deploys MariaDB across three controllers. gal1 and gal2 are bare
# hosts; gal3 is Kolla-style: a Docker engine in its namespace and a `mariadb` container with
# host networking (kolla.sh's image). gal1 bootstraps the cluster (--wsrep-new-cluster) and is
# seeded with the lab schema; gal2 and gal3 join by mariabackup SST. Every node runs as the
# `mysql` user with a mysql-owned datadir (rsync SST refuses root; mariabackup SST's helper
# runs as the server's user and reads the node's option file).
#
#   test/lab/galera.sh up      (re)start it; needs the lab's bridge (lab.sh up). Writes
#                              $LAB_DIR/galera/cloud.yml (a cloud `galera`, hosts gal1..gal3)
#   test/lab/galera.sh down    stop every process of osb-gal1..3, remove their folders
#   test/lab/galera.sh status  exit 0 when every node answers over SSH, wsrep_cluster_size=3, all Synced
#
# Knobs: GALERA_ROWS (nova.instances rows loaded into the cluster, default 4000).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.sh
source "$here/lab.sh"
GAL=(gal1 gal2 gal3)
IP[gal1]=$LAB_NET.21; IP[gal2]=$LAB_NET.22; IP[gal3]=$LAB_NET.23
G=$LAB_DIR/galera
GALERA_ROWS=${GALERA_ROWS:-4000}
CLUSTER_ADDRESS=gcomm://${IP[gal1]},${IP[gal2]},${IP[gal3]}
# the rootfs tarball is built once per clone by lab.sh; a worktree may reuse the lab's clone's
[ -s "$KOLLA_CACHE" ] || [ ! -s "$LAB_DIR/../cache/kolla-mariadb-rootfs.tar" ] || KOLLA_CACHE=$LAB_DIR/../cache/kolla-mariadb-rootfs.tar
T0=${EPOCHREALTIME/./}
took() { local d=$(( ${EPOCHREALTIME/./} - T0 )); printf '%d.%01ds' $((d / 1000000)) $((d % 1000000 / 100000)); }
glog() { printf '[galera %(%H:%M:%S)T +%s] %s\n' -1 "$(took)" "$*" >&2; }
on() { local h=$1; shift; ssh -q -i "$LAB_DIR/keys/worker_ed25519" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@"${IP[$h]}" "$@"; }
# SQL as root over the node's socket (bare: the node's option file; gal3: inside the container)
gsql() {
  local h=$1; shift
  # the remote shell joins the words again: quote each one
  if [ "$h" = gal3 ]; then on "$h" "$(printf '%q ' docker exec -i mariadb mariadb -N -B "$@")"; else on "$h" "$(printf '%q ' mariadb --defaults-file="$LAB_DIR/$h/my.cnf" -N -B "$@")"; fi
}

galera_down() {
  for h in "${GAL[@]}"; do
    local ns=osb-$h pids
    if ip netns list | grep -qw "$ns"; then
      # everything the node runs lives in its namespace: sshd, mariadbd, dockerd, the container
      pids=$(ip netns pids "$ns" 2>/dev/null || true)
      [ -n "$pids" ] && kill -TERM $pids 2>/dev/null || true
      for _ in $(seq 1 150); do pids=$(ip netns pids "$ns" 2>/dev/null || true); [ -z "$pids" ] && break; sleep 0.2; done
      [ -n "$pids" ] && kill -KILL $pids 2>/dev/null || true
      ip netns del "$ns" 2>/dev/null || true
    fi
    ip netns list | grep -qw "$SW" && ip -n "$SW" link del "osb-$h-p" 2>/dev/null || true
    rm -rf "${LAB_DIR:?}/$h"
  done
  rm -rf "$G"
}

galera_net() {
  ip netns list | grep -qw "$SW" || die "no lab bridge ($SW): bring the lab up first (test/lab/lab.sh up)"
  [ -f "$LAB_DIR/keys/authorized_keys" ] || die "no $LAB_DIR/keys/authorized_keys: is LAB_DIR the running lab's folder?"
  for h in "${GAL[@]}"; do
    ip netns add "osb-$h"
    ip -n "osb-$h" link set lo up
    ip link add "osb-$h-p" type veth peer name eth0 netns "osb-$h"
    ip link set "osb-$h-p" netns "$SW"
    ip -n "$SW" link set "osb-$h-p" master br0 up
    ip -n "osb-$h" addr add "${IP[$h]}/24" dev eth0
    ip -n "osb-$h" link set eth0 up
  done
}

# The wsrep settings every node shares; the node's address and name differ.
wsrep_cnf() {
  local h=$1
  cat <<CNF
binlog_format=ROW
log_slave_updates=ON
innodb_autoinc_lock_mode=2
innodb_flush_log_at_trx_commit=2
innodb_buffer_pool_size=128M
innodb_log_file_size=64M
skip-name-resolve
wsrep_on=ON
wsrep_provider=/usr/lib/galera/libgalera_smm.so
wsrep_cluster_name=osb_galera
wsrep_cluster_address=$CLUSTER_ADDRESS
wsrep_node_address=${IP[$h]}
wsrep_node_name=$h
wsrep_sst_method=mariabackup
wsrep_sst_auth=mysql:
wsrep_provider_options=gcache.size=128M;gmcast.listen_addr=tcp://${IP[$h]}:4567
CNF
}

# A bare node: its option file, an empty mysql-owned datadir (a joiner gets its data by SST).
bare_node() {
  local h=$1 sid=$2 d=$LAB_DIR/$1
  mkdir -p "$d/data" "$d/binlog" "$d/tmp"
  {
    printf '%s\n' "[client]" "socket=$d/mysqld.sock"
    mycnf_server "$h" "$sid" mysql
    wsrep_cnf "$h"
  } > "$d/my.cnf"
  # the server writes its socket, pid file and error log beside its option file
  chown mysql:mysql "$d"; chown -R mysql:mysql "$d/data" "$d/binlog" "$d/tmp"
  ssh_up "$h"
}

# The Kolla-style node: dockerd in its namespace (kolla.sh), the image imported, the container
# created with the wsrep settings in a mounted conf.d file and a volume folder as its datadir.
kolla_node() {
  local h=gal3 d=$LAB_DIR/gal3
  kolla_host_up "$h"
  for _ in $(seq 1 100); do on "$h" /usr/bin/docker info >/dev/null 2>&1 && break; sleep 0.2; done
  on "$h" /usr/bin/docker info >/dev/null 2>&1 || { tail "$d/dockerd.log" >&2; die "dockerd did not start on $h"; }
  on "$h" /usr/bin/docker import - $KOLLA_IMAGE < "$KOLLA_CACHE" >/dev/null
  local ids; ids=$(on "$h" "/usr/bin/docker run --rm --network none $KOLLA_IMAGE sh -c 'echo \$(id -u mysql):\$(id -g mysql)'")
  [[ $ids =~ ^[0-9]+:[0-9]+$ ]] || die "could not read the mysql user's ids in $KOLLA_IMAGE (got '$ids')"
  echo "$ids" > "$d/mysql-owner"
  chown "$ids" "$d/volume"
  {
    cat <<CNF
[client-server]
socket=/var/lib/mysql/mysqld.sock
[mariadbd]
bind-address=${IP[$h]}
server_id=23
log_bin=mysql-bin
pid-file=/var/lib/mysql/mysqld.pid
CNF
    wsrep_cnf "$h"
  } > "$d/conf/90-galera.cnf"
  on "$h" /usr/bin/docker create --name mariadb --network host -v "$d/volume:/var/lib/mysql" -v "$d/conf/90-galera.cnf:/etc/mysql/mariadb.conf.d/90-galera.cnf:ro" \
    $KOLLA_IMAGE mariadbd --user=mysql >/dev/null
}

# Waits (one SSH round trip) until the node reports Synced in a cluster of $2 nodes.
wait_synced() {
  local h=$1 n=$2 q="SELECT CONCAT((SELECT variable_value FROM information_schema.global_status WHERE variable_name='wsrep_local_state_comment'),'/',(SELECT variable_value FROM information_schema.global_status WHERE variable_name='wsrep_cluster_size'))"
  local cmd="mariadb --defaults-file=$LAB_DIR/$h/my.cnf"
  [ "$h" = gal3 ] && cmd="docker exec mariadb mariadb"
  on "$h" "for i in \$(seq 1 300); do s=\$($cmd -N -B -e \"$q\" 2>/dev/null); [ \"\$s\" = Synced/$n ] && exit 0; sleep 0.2; done; echo \"last state: \$s\" >&2; exit 1" \
    || die "$h did not reach Synced in a cluster of $n (see $LAB_DIR/$h)"
}

galera_up() {
  need
  command -v socat >/dev/null || die "socat is missing (mariabackup SST needs it; ./dev setup installs it)"
  [ -x /usr/lib/galera/libgalera_smm.so ] || [ -f /usr/lib/galera/libgalera_smm.so ] || die "galera-4 is not installed (./dev setup installs it)"
  [ -s "$KOLLA_CACHE" ] || kolla_rootfs
  galera_down
  glog "network: ${GAL[*]} at ${IP[gal1]}..${IP[gal3]} on $SW"
  galera_net
  # the nodes' server and SST helper run as mysql and must reach their folders under LAB_DIR:
  # traverse only; the lab's secrets stay in their own 0700 folder
  chmod 711 "$LAB_DIR"
  mkdir -p "$G"
  bare_node gal1 21
  bare_node gal2 22
  kolla_node
  glog "gal1: mariadb-install-db, then bootstrap a new cluster (--wsrep-new-cluster)"
  mariadb-install-db --defaults-file="$LAB_DIR/gal1/my.cnf" --user=mysql --auth-root-authentication-method=socket --skip-test-db >"$LAB_DIR/gal1/install.log" 2>&1 \
    || { tail "$LAB_DIR/gal1/install.log" >&2; die "mariadb-install-db failed on gal1"; }
  on gal1 "$here/db.sh" start "$LAB_DIR/gal1" --wsrep-new-cluster || die "gal1 did not bootstrap (see $LAB_DIR/gal1/mysqld.err)"
  wait_synced gal1 1
  local pw; pw=$(cat "$LAB_DIR/secrets/db-password")
  head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$G/admin-password"; chmod 600 "$G/admin-password"
  gsql gal1 < "$here/schema.sql"
  bash "$here/load.sql.sh" "$GALERA_ROWS" | gsql gal1 -D keystone
  # osbackup's user: the lab's grants plus what setting wsrep_desync on a donor needs (SUPER in
  # 10.11); the lab's admin (every privilege, over TCP) is for the tests' write load and checks
  gsql gal1 <<SQL
CREATE USER 'osbackup'@'localhost' IDENTIFIED BY '$pw';
CREATE USER 'osbackup'@'%' IDENTIFIED BY '$pw';
GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR, SELECT, SUPER ON *.* TO 'osbackup'@'localhost', 'osbackup'@'%';
CREATE USER 'labadmin'@'%' IDENTIFIED BY '$(cat "$G/admin-password")';
GRANT ALL PRIVILEGES ON *.* TO 'labadmin'@'%';
CREATE DATABASE osb_load;
CREATE TABLE osb_load.writes (id BIGINT AUTO_INCREMENT PRIMARY KEY, at DATETIME(6) NOT NULL, payload VARCHAR(255)) ENGINE=InnoDB;
SQL
  glog "gal2: join by mariabackup SST"
  on gal2 "$here/db.sh" start "$LAB_DIR/gal2" || die "gal2 did not join (see $LAB_DIR/gal2/mysqld.err)"
  wait_synced gal2 2
  glog "gal3: the mariadb container joins by mariabackup SST"
  on gal3 /usr/bin/docker start mariadb >/dev/null
  wait_synced gal3 3
  write_galera_config
  galera_status || die "the cluster did not come up"
  glog "up in $(took): 3 nodes Synced; config $G/cloud.yml"
}

write_galera_config() {
  local tables="[keystone.project, keystone.user, nova.instances, cinder.volumes, glance.images, neutron.ports]"
  {
    cat <<YML
# Written by test/lab/galera.sh: the cloud \`galera\`, to merge under \`clouds:\` of the lab's config.
galera:
  database:
    host: gal1
    user: osbackup
    password: { file: $LAB_DIR/secrets/db-password }
    verifyTables: $tables
    galera:
      nodes: [gal1, gal2, gal3]
  hosts:
YML
    for h in gal1 gal2; do
      host_yaml "$h" 4
      bare_mariadb_yaml "$LAB_DIR/$h" 6
      # mariadbd runs as mysql (the SST runs as that user); a restore bootstraps a new cluster from either
      printf '%s\n' '        owner: "mysql:mysql"' "        bootstrapCommand: [$here/db.sh, start, $LAB_DIR/$h, --wsrep-new-cluster]"
    done
    host_yaml gal3 4
    kolla_mariadb_yaml "$LAB_DIR/gal3" "$(cat "$LAB_DIR/gal3/mysql-owner")" 6
  } > "$G/cloud.yml"
}

galera_status() {
  local ok=0 q="SELECT CONCAT((SELECT variable_value FROM information_schema.global_status WHERE variable_name='wsrep_cluster_size'),' ',(SELECT variable_value FROM information_schema.global_status WHERE variable_name='wsrep_local_state_comment'),' ',(SELECT variable_value FROM information_schema.global_status WHERE variable_name='wsrep_last_committed'))"
  for h in "${GAL[@]}"; do
    local s
    if ! s=$(gsql "$h" -e "$q" 2>/dev/null); then log "$h: MariaDB not answering over SSH"; ok=1; continue; fi
    set -- $s
    if [ "${1:-}" != 3 ] || [ "${2:-}" != Synced ]; then log "$h: cluster size ${1:-?}, state ${2:-?} (want 3, Synced)"; ok=1; else log "$h: Synced, cluster size 3, seqno ${3:-?}"; fi
  done
  return $ok
}

case ${1:-} in
  up) galera_up ;;
  down) galera_down; log "galera down: nothing left" ;;
  status) galera_status ;;
  config) write_galera_config ;;  # rewrite cloud.yml for the running cluster
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
