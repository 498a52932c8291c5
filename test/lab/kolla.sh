#!/usr/bin/env bash
# The Kolla-style lab host ctl3, sourced by lab.sh: a Docker engine from Debian (docker.io)
# inside the host's namespace (private socket, data root under the lab folder, no iptables,
# no bridge), an image made with debootstrap + `docker import` (no registry is reachable), and
# a container named `mariadb` with host networking whose data lives in a volume folder.

KOLLA_IMAGE=osb/kolla-mariadb:lab
KOLLA_CACHE=$root/.dev/cache/kolla-mariadb-rootfs.tar

kolla_rootfs() {
  [ -s "$KOLLA_CACHE" ] && return 0
  command -v debootstrap >/dev/null || die "debootstrap is missing (./dev setup installs it)"
  local mirror tmp
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  tmp=$(mktemp -d /var/tmp/osb-rootfs.XXXXXX)
  log "building the mariadb image's root filesystem with debootstrap (once; cached in .dev/cache)"
  debootstrap --variant=minbase --include=mariadb-server,mariadb-backup,procps bookworm "$tmp" "$mirror" >"$root/.dev/debootstrap.log" 2>&1 \
    || { rm -rf "$tmp"; die "debootstrap failed (see .dev/debootstrap.log)"; }
  mkdir -p "$(dirname "$KOLLA_CACHE")"
  tar -C "$tmp" -c . > "$KOLLA_CACHE.tmp" && mv "$KOLLA_CACHE.tmp" "$KOLLA_CACHE"
  rm -rf "$tmp"
}

# sshd and dockerd share one private mount namespace, so the docker CLI in an SSH session
# finds the daemon at the default /var/run/docker.sock, as on a real Kolla host. nsenter, not
# `ip netns exec`: the latter remounts /sys and with it hides the cgroup mounts dockerd needs.
kolla_host_up() {
  local h=ctl3; local d=$LAB_DIR/$h
  mkdir -p "$d/docker" "$d/volume" "$d/conf"
  ssh_config_for "$h"
  nsenter --net=/run/netns/osb-$h unshare -m --propagation private sh -c \
    "mount -t tmpfs -o mode=755 osb-run /run && mkdir -m 755 /run/sshd && \
     (setsid /usr/sbin/dockerd --data-root $d/docker --exec-root /run/docker --pidfile /run/docker.pid -H unix:///run/docker.sock \
        --iptables=false --ip-forward=false --ip-masq=false --bridge=none --storage-driver overlay2 </dev/null >$d/dockerd.log 2>&1 &) && \
     exec /usr/sbin/sshd -f $d/ssh/sshd_config -E $d/ssh/sshd.log"
}

on3() { ssh -q -i "$LAB_DIR/keys/worker_ed25519" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@"${IP[ctl3]}" "$@"; }

kolla_mariadb_up() {
  local d=$LAB_DIR/ctl3
  for _ in $(seq 1 100); do on3 /usr/bin/docker info >/dev/null 2>&1 && break; sleep 0.2; done
  on3 /usr/bin/docker info >/dev/null 2>&1 || { tail "$d/dockerd.log" >&2; die "dockerd did not start on ctl3"; }
  on3 /usr/bin/docker import - $KOLLA_IMAGE < "$KOLLA_CACHE" >/dev/null
  KOLLA_UID=$(on3 /usr/bin/docker run --rm --network none $KOLLA_IMAGE id -u mysql)
  KOLLA_GID=$(on3 /usr/bin/docker run --rm --network none $KOLLA_IMAGE id -g mysql)
  cat > "$d/conf/90-lab.cnf" <<CNF
[client-server]
socket=/var/lib/mysql/mysqld.sock
[mariadbd]
bind-address=${IP[ctl3]}
server_id=3
log_bin=mysql-bin
binlog_format=ROW
innodb_buffer_pool_size=128M
innodb_log_file_size=64M
skip-name-resolve
pid-file=/var/lib/mysql/mysqld.pid
CNF
  local run=(/usr/bin/docker run --network host -v "$d/volume:/var/lib/mysql" -v "$d/conf/90-lab.cnf:/etc/mysql/mariadb.conf.d/90-lab.cnf:ro")
  on3 "${run[@]}" --rm $KOLLA_IMAGE mariadb-install-db --user=mysql --datadir=/var/lib/mysql --auth-root-authentication-method=socket --skip-test-db >"$d/install.log" 2>&1 \
    || { tail "$d/install.log" >&2; die "mariadb-install-db failed in the ctl3 container"; }
  on3 "${run[@]}" -d --name mariadb $KOLLA_IMAGE mariadbd --user=mysql >/dev/null
  kolla_wait
  local pw; pw=$(cat "$LAB_DIR/secrets/db-password")
  on3 /usr/bin/docker exec -i mariadb mariadb < "$here/schema.sql"
  bash "$here/load.sql.sh" $(( LAB_ROWS / 4 + 1 )) | on3 /usr/bin/docker exec -i mariadb mariadb -D keystone
  on3 /usr/bin/docker exec -i mariadb mariadb <<SQL
SET SESSION sql_log_bin=0;
CREATE USER 'osbackup'@'localhost' IDENTIFIED BY '$pw';
GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR, SELECT ON *.* TO 'osbackup'@'localhost';
SQL
  # checkpoint the bulk load (see lab.sh)
  on3 /usr/bin/docker restart mariadb >/dev/null
  kolla_wait
}

# One SSH round trip polls until the server answers, or reports why the container stopped.
kolla_wait() {
  on3 'for i in $(seq 1 150); do docker exec mariadb mariadb-admin ping >/dev/null 2>&1 && exit 0; [ "$(docker inspect -f {{.State.Running}} mariadb)" = true ] || break; sleep 0.2; done; docker logs mariadb 2>&1 | tail -n 5; exit 1' >&2 \
    || die "the mariadb container on ctl3 did not answer"
}

kolla_config() {
  cat <<YML
  kolla:
    database:
      host: ctl3
      user: osbackup
      password: { file: $LAB_DIR/secrets/db-password }
      verifyTables: [keystone.project, keystone.user, nova.instances, cinder.volumes, glance.images, neutron.ports]
    hosts:
      ctl3:
        address: ${IP[ctl3]}
        port: 22
        user: root
        keyFile: $LAB_DIR/keys/worker_ed25519
        hostKeyFingerprint: "$(fp ctl3)"
        containerRuntime: docker
        containers: { mariadb: mariadb }
        mariadb:
          defaultsFile: /etc/mysql/my.cnf
          datadir: $LAB_DIR/ctl3/volume
          owner: "$KOLLA_UID:$KOLLA_GID"
          stopCommand: [docker, stop, mariadb]
          startCommand: [docker, start, mariadb]
          restoreDir: $LAB_DIR/ctl3/restore
YML
}
