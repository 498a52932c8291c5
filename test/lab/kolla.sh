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
  local h=${1:-ctl3}; local d=$LAB_DIR/$h
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
-- logical dumps (backup dump): views, triggers, events
GRANT SHOW VIEW, TRIGGER, EVENT ON *.* TO 'osbackup'@'localhost';
SQL
  # checkpoint the bulk load (see lab.sh)
  on3 /usr/bin/docker restart mariadb >/dev/null
  kolla_wait
  kolla_tree_up
}

# One SSH round trip polls until the server answers, or reports why the container stopped.
kolla_wait() {
  on3 'for i in $(seq 1 150); do docker exec mariadb mariadb-admin ping >/dev/null 2>&1 && exit 0; [ "$(docker inspect -f {{.State.Running}} mariadb)" = true ] || break; sleep 0.2; done; docker logs mariadb 2>&1 | tail -n 5; exit 1' >&2 \
    || die "the mariadb container on ctl3 did not answer"
}

# A Kolla-Ansible deploy tree on ctl3 at /etc/kolla (bind-mounted, inside ctl3's private mount
# namespace only, from the lab folder) and a `keystone` container holding Fernet and credential
# keys, as kolla-ansible leaves them.
kolla_tree_up() {
  local d=$LAB_DIR/ctl3 k=$LAB_DIR/ctl3/etc-kolla
  mkdir -p "$k"/{keystone/fernet-keys,keystone/credential-keys,nova,neutron,cinder,glance,config/nova,config/neutron}
  local pw admin; pw=$(cat "$LAB_DIR/secrets/db-password"); admin=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  cat > "$k/globals.yml" <<YML
---
kolla_base_distro: "debian"
openstack_release: "2023.1"
kolla_internal_vip_address: "${IP[ctl3]}"
network_interface: "eth0"
neutron_external_interface: "eth1"
enable_haproxy: "no"
enable_mariadb: "yes"
enable_cinder: "yes"
enable_cinder_backend_lvm: "yes"
cinder_volume_group: "cinder-volumes"
enable_fernet_token: "yes"
nova_compute_virt_type: "kvm"
YML
  cat > "$k/passwords.yml" <<YML
---
database_password: "$pw"
keystone_admin_password: "$admin"
rabbitmq_password: "$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
nova_database_password: "$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
cinder_database_password: "$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
YML
  cat > "$k/inventory" <<INI
[control]
ctl3 ansible_host=${IP[ctl3]}

[network:children]
control

[compute]
ctl3

[storage]
ctl3

[mariadb:children]
control

[keystone:children]
control
INI
  cat > "$k/admin-openrc.sh" <<SH
export OS_PROJECT_DOMAIN_NAME=Default
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_NAME=admin
export OS_USERNAME=admin
export OS_PASSWORD=$admin
export OS_AUTH_URL=http://${IP[ctl3]}:5000
export OS_IDENTITY_API_VERSION=3
SH
  printf '[DEFAULT]\ncpu_allocation_ratio = 4.0\n' > "$k/config/nova/nova.conf"
  # owners and modes a restore must keep (Kolla's nova uid, a group-readable file, a symlink)
  chown 42436:42436 "$k/config/nova/nova.conf" && chmod 640 "$k/config/nova/nova.conf"
  ln -s ../config/nova/nova.conf "$k/nova/nova.conf"
  printf '[ml2]\nmechanism_drivers = openvswitch\n' > "$k/config/neutron/ml2_conf.ini"
  for i in 0 1 2; do head -c 32 /dev/urandom | base64 | tr '+/' '-_' > "$k/keystone/fernet-keys/$i"; done
  for i in 0 1; do head -c 32 /dev/urandom | base64 | tr '+/' '-_' > "$k/keystone/credential-keys/$i"; done
  chmod 600 "$k/passwords.yml" "$k/admin-openrc.sh" "$k"/keystone/*/*
  # the mount point must exist on the shared root filesystem; it is removed at teardown
  [ -d /etc/kolla ] || { mkdir /etc/kolla && touch "$LAB_DIR/.made-etc-kolla"; }
  on3 "mount --bind $k /etc/kolla"
  # keystone: the keys live in the container, owned by its keystone user (42425 in Kolla)
  on3 "docker run -d --name keystone --network none -v /etc/kolla/keystone:/var/lib/kolla/config_files/src:ro $KOLLA_IMAGE sleep infinity >/dev/null && \
       docker exec keystone sh -c 'mkdir -p /etc/keystone && cp -a /var/lib/kolla/config_files/src/fernet-keys /var/lib/kolla/config_files/src/credential-keys /etc/keystone/ && chown -R 42425:42425 /etc/keystone/fernet-keys /etc/keystone/credential-keys'"
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
YML
  host_yaml ctl3 6
  kolla_mariadb_yaml "$LAB_DIR/ctl3" "$KOLLA_UID:$KOLLA_GID" 8
  echo '        keystone: { container: keystone, keysDir: /etc/keystone, owner: "42425:42425" }'
  # the bare hosts, as this cloud's other Keystone host (ctl2), its RabbitMQ (ctl2) and a
  # fresh host to restore onto (ctl1)
  for h in ctl1 ctl2; do
    host_yaml "$h" 6
    cat <<YML
        rabbitmq: { rabbitmqctl: /usr/lib/rabbitmq/bin/rabbitmqctl, nodeName: rabbit@localhost, env: { HOME: $LAB_DIR/$h/rabbitmq } }
YML
    [ "$h" = ctl2 ] && echo "        keystone: { keysDir: $LAB_DIR/ctl2/keystone, owner: \"65534:65534\" }"
  done
  cat <<YML
    controlPlane:
      kolla: { host: ctl3, configDir: /etc/kolla }
      keystoneHosts: [ctl3, ctl2]
    rabbitmq: { host: ctl2 }
YML
}
