#!/usr/bin/env bash
# OpenStack Swift as the lab's S3 store: one node, one replica, storage in a folder, the s3api
# middleware in front of tempauth. Every daemon runs inside the given network namespace as a
# plain process with a pidfile (workers=0), so stopping it never touches anything else.
#
#   test/lab/swift.sh start <netns> <dir> <address> <port>
#   test/lab/swift.sh stop  <netns> <dir>
#   test/lab/swift.sh status <netns> <dir>
#
# or `source` it (lab.sh does) and call swift_start / swift_stop / swift_status.
#
# <dir>/swift/ holds etc/ (configs, rings), srv/ (the objects), run/ (pidfiles), log/, and:
#   s3-endpoint    http://<address>:<port>
#   s3-bucket      the bucket created at start (SWIFT_BUCKET, default osbackup)
#   s3-access-key  tempauth "<account>:<user>" = the S3 access key id      (0600)
#   s3-secret-key  tempauth key = the S3 secret access key                 (0600)
# A second start on the same <dir> keeps the data, the hash suffix and the keys.
# Backends listen on 127.0.0.1 of the namespace (SWIFT_BACKEND_PORT_BASE, default 6200..6202;
# memcached on SWIFT_MEMCACHE_PORT, default 11211); only the proxy listens on <address>.

_swift_log() { printf '[swift %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
_swift_python=/usr/bin/python3
_swift_secs() { local d=$(( ${EPOCHREALTIME/./} - $1 )); printf '%d.%01d' $((d / 1000000)) $((d % 1000000 / 100000)); }   # Debian's python3-swift; a pyenv/venv python3 on PATH lacks it

# _swift_spawn <netns> <dir> <name> <command...>: start a daemon in the namespace, pid in run/<name>.pid
_swift_spawn() {
  local ns=$1 s=$2/swift name=$3; shift 3
  ip netns exec "$ns" setsid "$@" </dev/null >>"$s/log/$name.log" 2>&1 &
  # ip netns exec and setsid both exec (no fork: a background job of a script is no group leader)
  echo $! > "$s/run/$name.pid"
}

_swift_alive() { local p; p=$(cat "$1" 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

_swift_daemons=(memcached account-server container-server object-server proxy-server)

_swift_confs() {
  local s=$1 addr=$2 port=$3 base=$4 mc=$5 secret=$6 account=$7 user=$8
  local svc p
  for svc in account container object; do
    case $svc in object) p=$base ;; container) p=$((base + 1)) ;; account) p=$((base + 2)) ;; esac
    cat > "$s/etc/$svc-server.conf" <<CONF
[DEFAULT]
devices = $s/srv/node
mount_check = false
disable_fallocate = true
bind_ip = 127.0.0.1
bind_port = $p
workers = 0
user = root
swift_dir = $s/etc
log_name = $svc-server
log_level = INFO

[pipeline:main]
pipeline = healthcheck recon $svc-server

[app:$svc-server]
use = egg:swift#$svc

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:recon]
use = egg:swift#recon
recon_cache_path = $s/cache
CONF
  done
  # s3api before tempauth; tempauth keeps its S3 signatures/tokens in memcache (it refuses to
  # work without one). max_upload_part_num stays at Swift's default 1000, as on a real cloud.
  ( umask 077
    cat > "$s/etc/proxy-server.conf" <<CONF
[DEFAULT]
bind_ip = $addr
bind_port = $port
workers = 0
user = root
swift_dir = $s/etc
log_name = proxy-server
log_level = INFO

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:s3api]
use = egg:swift#s3api
location = us-east-1
s3_acl = false

[filter:tempauth]
use = egg:swift#tempauth
user_${account}_${user} = $secret .admin

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$mc
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
CONF
  )
}

# Three rings (part power 8, 1 replica, 1 device each) built in one python process: ~0.5 s
# instead of ~5 s for nine swift-ring-builder calls.
_swift_rings() {
  local s=$1 base=$2
  EVENTLET_NO_GREENDNS=yes "$_swift_python" - "$s/etc" "$base" <<'PY'
import sys
from swift.common.ring import RingBuilder
etc, base = sys.argv[1], int(sys.argv[2])
for name, port in (('object', base), ('container', base + 1), ('account', base + 2)):
    b = RingBuilder(8, 1, 1)
    b.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': port,
               'device': 'd1', 'weight': 100, 'meta': ''})
    b.rebalance()
    b.save(f'{etc}/{name}.builder')
    b.get_ring().save(f'{etc}/{name}.ring.gz')
PY
}

_swift_tails() {
  local s=$1 n
  for n in "${_swift_daemons[@]}"; do
    if [ -s "$s/log/$n.log" ]; then echo "--- $s/log/$n.log (last lines)" >&2; tail -n 12 "$s/log/$n.log" >&2; fi
  done
}

swift_status() {
  local ns=${1:?netns} dir=${2:?dir}; local s=$dir/swift n p
  [ -s "$s/s3-endpoint" ] || return 1
  for n in "${_swift_daemons[@]}"; do _swift_alive "$s/run/$n.pid" || return 1; done
  p=$(sed 's|^http://||' "$s/s3-endpoint")
  ip netns exec "$ns" curl -fsS -m 3 -o /dev/null "http://$p/healthcheck" 2>/dev/null
}

swift_start() {
  local ns=${1:?netns} dir=${2:?dir} addr=${3:?address} port=${4:?port}
  local s=$dir/swift t0=${EPOCHREALTIME/./}
  local base=${SWIFT_BACKEND_PORT_BASE:-6200} mc=${SWIFT_MEMCACHE_PORT:-11211}
  local bucket=${SWIFT_BUCKET:-osbackup} account=osbackup user=backup
  ip netns list | grep -qw -- "$ns" || { _swift_log "ERROR: network namespace $ns does not exist"; return 1; }
  if swift_status "$ns" "$dir"; then _swift_log "already running at $(cat "$s/s3-endpoint")"; return 0; fi
  swift_stop "$ns" "$dir" 2>/dev/null || true   # leftovers of a crashed run
  mkdir -p "$s"/{etc,srv/node/d1,run,log,cache}
  chmod 700 "$s"

  # credentials and hash suffix survive a restart on the same folder (the data stays readable)
  local secret suffix
  if [ -s "$s/s3-secret-key" ]; then secret=$(cat "$s/s3-secret-key")
  else secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+='); fi
  if [ -s "$s/etc/swift.conf" ]; then suffix=$(awk -F' *= *' '/^swift_hash_path_suffix/ {print $2}' "$s/etc/swift.conf")
  else suffix=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'); fi
  ( umask 077
    printf '%s:%s\n' "$account" "$user" > "$s/s3-access-key"
    printf '%s\n' "$secret" > "$s/s3-secret-key" )
  printf 'http://%s:%s\n' "$addr" "$port" > "$s/s3-endpoint"
  printf '%s\n' "$bucket" > "$s/s3-bucket"
  cat > "$s/etc/swift.conf" <<CONF
[swift-hash]
swift_hash_path_suffix = $suffix
swift_hash_path_prefix = osbackup-lab

[storage-policy:0]
name = Policy-0
default = yes

[swift-constraints]
max_file_size = 5368709122
CONF
  _swift_confs "$s" "$addr" "$port" "$base" "$mc" "$secret" "$account" "$user"
  rm -f "$s"/etc/*.ring.gz

  # Start-up is dominated by python imports (~1.5 s of CPU per daemon on 2 cores):
  # EVENTLET_NO_GREENDNS skips dnspython (~40 % of it; every address here is an IP), and the
  # backends (which need no ring to start) come up while the rings are built; the proxy last.
  _swift_spawn "$ns" "$dir" memcached /usr/bin/memcached -u root -l 127.0.0.1 -p "$mc" -U 0 -m 64
  local n
  for n in account-server container-server object-server; do
    # -v: log to stderr (the log file) as well; there is no syslog in the lab
    EVENTLET_NO_GREENDNS=yes _swift_spawn "$ns" "$dir" "$n" "$_swift_python" "/usr/bin/swift-$n" "$s/etc/$n.conf" -v
  done
  if ! _swift_rings "$s" "$base" >"$s/log/rings.log" 2>&1; then
    _swift_log "ERROR: building the rings failed"; tail -n 20 "$s/log/rings.log" >&2; swift_stop "$ns" "$dir"; return 1
  fi
  EVENTLET_NO_GREENDNS=yes _swift_spawn "$ns" "$dir" proxy-server "$_swift_python" /usr/bin/swift-proxy-server "$s/etc/proxy-server.conf" -v

  # ready = every backend and the proxy answer /healthcheck, then tempauth hands out a token
  # and the bucket exists (a real request through proxy, account, container servers)
  local deadline=$((SECONDS + ${SWIFT_START_TIMEOUT:-60})) ok
  local urls=("http://127.0.0.1:$base/healthcheck" "http://127.0.0.1:$((base + 1))/healthcheck" "http://127.0.0.1:$((base + 2))/healthcheck" "http://$addr:$port/healthcheck")
  while :; do
    ok=1
    for n in "${_swift_daemons[@]}"; do
      if ! _swift_alive "$s/run/$n.pid"; then _swift_log "ERROR: $n exited during start"; _swift_tails "$s"; swift_stop "$ns" "$dir"; return 1; fi
    done
    for u in "${urls[@]}"; do ip netns exec "$ns" curl -fsS -m 2 -o /dev/null "$u" 2>/dev/null || { ok=0; break; }; done
    [ $ok = 1 ] && break
    if [ $SECONDS -ge $deadline ]; then _swift_log "ERROR: Swift did not answer within ${SWIFT_START_TIMEOUT:-60} s"; _swift_tails "$s"; swift_stop "$ns" "$dir"; return 1; fi
    sleep 0.1
  done
  # the key goes to curl in a header file, never on a command line
  local hdr tok code
  hdr=$(mktemp "$s/run/auth.XXXXXX")
  printf 'X-Auth-User: %s:%s\nX-Auth-Key: %s\n' "$account" "$user" "$secret" > "$hdr"
  tok=$(ip netns exec "$ns" curl -fsS -m 10 -o /dev/null -D - -H @"$hdr" "http://$addr:$port/auth/v1.0" 2>>"$s/log/start.log" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-auth-token" {print $2}')
  rm -f "$hdr"
  if [ -z "$tok" ]; then _swift_log "ERROR: tempauth gave no token for $account:$user"; _swift_tails "$s"; swift_stop "$ns" "$dir"; return 1; fi
  code=$(ip netns exec "$ns" curl -sS -m 10 -o /dev/null -w '%{http_code}' -X PUT -H "X-Auth-Token: $tok" "http://$addr:$port/v1/AUTH_$account/$bucket" 2>>"$s/log/start.log")
  case $code in 201|202) ;; *) _swift_log "ERROR: creating bucket $bucket answered HTTP $code"; _swift_tails "$s"; swift_stop "$ns" "$dir"; return 1 ;; esac
  _swift_log "up at http://$addr:$port (bucket $bucket, keys in $s) in $(_swift_secs "$t0") s"
}

swift_stop() {
  local ns=${1:?netns} dir=${2:?dir}; local s=$dir/swift n p pids=()
  [ -d "$s/run" ] || return 0
  for n in proxy-server object-server container-server account-server memcached; do
    p=$(cat "$s/run/$n.pid" 2>/dev/null) || continue
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then kill -TERM "$p" 2>/dev/null && pids+=("$p"); fi
  done
  local i
  for i in $(seq 1 100); do
    local left=()
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left+=("$p"); done
    [ ${#left[@]} -eq 0 ] && break
    [ "$i" = 100 ] && { _swift_log "killing ${left[*]} (no exit after SIGTERM)"; kill -KILL "${left[@]}" 2>/dev/null || true; }
    sleep 0.1
  done
  rm -f "$s"/run/*.pid
  : "$ns"  # the namespace itself belongs to the caller
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  case ${1:-} in
    start) [ $# -eq 5 ] || { echo "usage: $0 start <netns> <dir> <address> <port>" >&2; exit 2; }; swift_start "$2" "$3" "$4" "$5" ;;
    stop) [ $# -eq 3 ] || { echo "usage: $0 stop <netns> <dir>" >&2; exit 2; }; swift_stop "$2" "$3" ;;
    status) [ $# -eq 3 ] || { echo "usage: $0 status <netns> <dir>" >&2; exit 2; }; swift_status "$2" "$3" ;;
    *) echo "usage: $0 start <netns> <dir> <address> <port> | stop <netns> <dir> | status <netns> <dir>" >&2; exit 2 ;;
  esac
fi
