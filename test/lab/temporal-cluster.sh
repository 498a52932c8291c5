#!/usr/bin/env bash
# A production-shaped Temporal for the lab: the Temporal server built from its Go module, on a
# private PostgreSQL 15 (default and visibility stores), its frontend serving mutual TLS only.
# The dev server (./dev temporal start, :7233) stays what `./dev up` and `./dev demo` use; this
# one is for the tests that must see what a site's cluster does (test/integration/temporal-cluster.test.ts).
#
#   test/lab/temporal-cluster.sh build    the server and SQL tool binaries and the PostgreSQL schema, into a
#                                         machine-wide cache (5-7 min on 2 cores the first time, then nothing)
#   test/lab/temporal-cluster.sh up       tear down leftovers, then PostgreSQL, schema, certificates, the server;
#                                         when the lab is up, also `config`
#   test/lab/temporal-cluster.sh config [lab-config]
#                                         write $CLUSTER_DIR/osbackup.yml (the lab's config on this cluster, with
#                                         mTLS) and run `osbackup temporal setup` with it
#   test/lab/temporal-cluster.sh down     stop the server and PostgreSQL, remove their data; nothing is left behind
#   test/lab/temporal-cluster.sh status   exit 0 when the frontend answers SERVING over mTLS
#
# Knobs: CLUSTER_DIR (default <clone>/.dev/temporal-cluster), CLUSTER_PORT (the frontend's gRPC port,
# default 17433; PostgreSQL listens one below it, the other services above), OSBACKUP_TOOL_CACHE
# (default ~/.cache/osbackup), TEMPORAL_CLI (default <clone>/.dev/venv/bin/temporal),
# LAB_CONFIG (default <clone>/.dev/lab/osbackup.yml; empty: `up` leaves `config` for later).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
VERSION=v1.32.2
GO_TOOLCHAIN=go1.27.3 # the module needs Go >= 1.26.10; GOTOOLCHAIN fetches this one from the Go proxy
PACKAGES=1450         # what `go install -v` compiles for the two commands of this version, for the progress line
CACHE_ROOT=${OSBACKUP_TOOL_CACHE:-$HOME/.cache/osbackup}
CACHE=$CACHE_ROOT/temporal-$VERSION
SCHEMA=$CACHE/schema/postgresql/v12
DIR=${CLUSTER_DIR:-$root/.dev/temporal-cluster}
FE=${CLUSTER_PORT:-17433}
PG=$((FE - 1))
HISTORY=$((FE + 1)) MATCHING=$((FE + 2)) WORKER=$((FE + 3))
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
TEMPORAL_CLI=${TEMPORAL_CLI:-$root/.dev/venv/bin/temporal}
LAB_CONFIG=${LAB_CONFIG-$root/.dev/lab/osbackup.yml}
NAMESPACE=osbackup
log() { printf '[cluster %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

cache_complete() {
  [ -x "$CACHE/bin/server" ] && [ -x "$CACHE/bin/sql" ] && [ -d "$SCHEMA/temporal/versioned" ] && [ -d "$SCHEMA/visibility/versioned" ]
}

# The cache is written whole or not at all: built in a folder beside it, renamed into place. A lock
# makes a second clone building at the same time wait for the first and use its result.
build() {
  cache_complete && return 0
  mkdir -p "$CACHE_ROOT"
  exec 8>"$CACHE_ROOT/.temporal-$VERSION.lock"
  if ! flock -n 8; then
    log "another build of Temporal $VERSION is under way into $CACHE_ROOT: waiting for it"
    flock 8
  fi
  if cache_complete; then exec 8>&-; return 0; fi
  command -v go >/dev/null || die "no Go to build the Temporal server with. Fix: install Go 1.21 or newer (it fetches $GO_TOOLCHAIN itself), or put a built cache in $CACHE"
  # a build killed half-way (this lock was then free) leaves its folder behind
  rm -rf "$CACHE_ROOT/.temporal-$VERSION.build."*
  local tmp t0=$SECONDS pid n dl last next=20
  tmp=$(mktemp -d "$CACHE_ROOT/.temporal-$VERSION.build.XXXXXX")
  chmod 755 "$tmp"
  log "building the Temporal server $VERSION and its SQL tool from the Go module with $GO_TOOLCHAIN (5-7 min on 2 cores, more on a busy machine; once per machine, kept in $CACHE)"
  GOTOOLCHAIN=$GO_TOOLCHAIN GOBIN=$tmp/bin go install -v \
    "go.temporal.io/server/cmd/server@$VERSION" "go.temporal.io/server/cmd/tools/sql@$VERSION" >"$tmp/build.log" 2>&1 &
  pid=$!
  # -v names each package as it is compiled: a line every 20 s says how far it got
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if [ $((SECONDS - t0)) -ge $next ]; then
      next=$((next + 20))
      dl=$(grep -c '^go: downloading' "$tmp/build.log" || true)
      n=$(grep -vc '^go: ' "$tmp/build.log" || true)
      last=$(grep -v '^go: ' "$tmp/build.log" | tail -n 1 || true)
      log "building: $((SECONDS - t0)) s, $dl modules downloaded, $n of ~$PACKAGES packages compiled${last:+ (now $last)}"
    fi
  done
  if ! wait "$pid"; then
    tail -n 20 "$tmp/build.log" >&2
    rm -rf "$tmp"
    die "go install of the Temporal server $VERSION failed (above)"
  fi
  local mod
  mod=$(go env GOMODCACHE)/go.temporal.io/server@$VERSION/schema/postgresql/v12
  [ -d "$mod/temporal/versioned" ] || die "the module's schema is not at $mod"
  mkdir -p "$tmp/schema/postgresql/v12"
  cp -r "$mod/temporal" "$mod/visibility" "$tmp/schema/postgresql/v12/"
  chmod -R u+w "$tmp/schema" # the module cache is read-only; the cache must stay removable
  # an incomplete cache (an older, non-atomic build) is replaced, never merged into
  [ -e "$CACHE" ] && mv "$CACHE" "$tmp.old"
  mv -T "$tmp" "$CACHE"
  rm -rf "$tmp.old"
  exec 8>&-
  log "built in $((SECONDS - t0)) s: $CACHE"
}

# PostgreSQL refuses to run as root: its data belongs to the postgres user when the lab runs as root
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

server_pid() {
  local p
  [ -f "$DIR/server.pid" ] && p=$(cat "$DIR/server.pid") && kill -0 "$p" 2>/dev/null && echo "$p"
}

# the server and PostgreSQL, by their pid files
stop() {
  local p
  if p=$(server_pid); then
    kill -TERM "$p"
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  fi
  if [ -f "$DIR/pg/data/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
  fi
}

down() {
  stop
  rm -rf "$DIR"
}

tls_args() { echo --tls-cert-path "$DIR/certs/client.pem" --tls-key-path "$DIR/certs/client.key" --tls-ca-path "$DIR/certs/ca.pem"; }

healthy() {
  # shellcheck disable=SC2046
  "$TEMPORAL_CLI" operator cluster health --address "127.0.0.1:$FE" $(tls_args) 2>/dev/null | grep -q SERVING
}

pg_up() {
  mkdir -p "$DIR/pg"
  [ "$(id -u)" = 0 ] && chown postgres: "$DIR/pg"
  as_pg test -w "$DIR/pg" ||
    die "the postgres user cannot write $DIR/pg (a folder above it is closed to other users). Fix: CLUSTER_DIR=<a folder it can reach>"
  as_pg "$PG_BIN/initdb" -D "$DIR/pg/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --no-locale --no-sync >"$DIR/pg/initdb.log" 2>&1 || {
    cat "$DIR/pg/initdb.log" >&2
    die "initdb failed"
  }
  # a lab cluster: commits need not wait for the disk (a crash loses the last ones, nothing else)
  as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/postgres.log" -w -t 30 \
    -o "-p $PG -k $DIR/pg -c listen_addresses=127.0.0.1 -c synchronous_commit=off" start >/dev/null || {
    tail -n 20 "$DIR/pg/postgres.log" >&2
    die "PostgreSQL did not start on 127.0.0.1:$PG"
  }
  (umask 077 && openssl rand -hex 24 >"$DIR/secrets/pg-password")
  # the password goes in on stdin: never on a command line, never in a log
  printf "CREATE ROLE temporal LOGIN CREATEDB PASSWORD '%s';\n" "$(cat "$DIR/secrets/pg-password")" |
    "$PG_BIN/psql" -h "$DIR/pg" -p "$PG" -U postgres -d postgres -v ON_ERROR_STOP=1 -q -f - >/dev/null
}

schema_up() {
  local db=$1 schema=$2
  # SQL_PASSWORD: the tool reads it from its environment, so it is on no command line
  local sql=("$CACHE/bin/sql" --plugin postgres12 --ep 127.0.0.1 -p "$PG" -u temporal --db "$db")
  {
    SQL_PASSWORD=$(cat "$DIR/secrets/pg-password") "${sql[@]}" create-database &&
      SQL_PASSWORD=$(cat "$DIR/secrets/pg-password") "${sql[@]}" setup-schema -v 0.0 &&
      SQL_PASSWORD=$(cat "$DIR/secrets/pg-password") "${sql[@]}" update-schema -d "$SCHEMA/$schema/versioned"
  } >"$DIR/schema-$db.log" 2>&1 || {
    tail -n 20 "$DIR/schema-$db.log" >&2
    die "the $schema schema could not be set up in database $db"
  }
}

# A CA for the cluster; the server's certificate (also a client one: the services call the
# frontend with it); a client certificate for osbackup and for the server's own system worker; and
# a second CA with a client certificate of its own, which the server must refuse.
certs_up() {
  local c=$DIR/certs
  mkdir -p "$c"
  (
    cd "$c"
    umask 077
    ca() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj "/CN=$2" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -keyout "$1.key" -out "$1.pem" 2>/dev/null; }
    leaf() {
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
      printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" "$4" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -days 30 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    ca ca "osbackup lab Temporal CA"
    leaf server localhost ca $'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth'
    leaf client osbackup ca 'extendedKeyUsage=clientAuth'
    ca other-ca "an unrelated CA"
    leaf other-client osbackup other-ca 'extendedKeyUsage=clientAuth'
    chmod 644 ./*.pem
  )
}

config_up() {
  local c=$DIR/certs pw
  pw=$(cat "$DIR/secrets/pg-password")
  mkdir -p "$DIR/config"
  (
    umask 077 # the file holds the database password
    cat >"$DIR/config/temporal.yaml" <<EOF
# Written by test/lab/temporal-cluster.sh: the four services in one process, PostgreSQL stores,
# the frontend on mutual TLS.
log: { stdout: true, level: info }
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: 4
  datastores:
    default:
      sql: &sql
        pluginName: postgres12
        databaseName: temporal
        connectAddr: "127.0.0.1:$PG"
        connectProtocol: tcp
        user: temporal
        password: "$pw"
        maxConns: 20
        maxIdleConns: 20
        maxConnLifetime: 1h
    visibility:
      sql:
        <<: *sql
        databaseName: temporal_visibility
        maxConns: 10
        maxIdleConns: 10
global:
  membership: { maxJoinDuration: 30s, broadcastAddress: "127.0.0.1" }
  tls:
    frontend:
      server:
        certFile: $c/server.pem
        keyFile: $c/server.key
        requireClientAuth: true
        clientCaFiles: [$c/ca.pem]
      client:
        serverName: localhost
        rootCaFiles: [$c/ca.pem]
    # the worker service (schedules, the system workflows) is a client of the frontend like any
    # other: without a certificate of its own it cannot connect, although health says SERVING
    systemWorker:
      certFile: $c/client.pem
      keyFile: $c/client.key
      client:
        serverName: localhost
        rootCaFiles: [$c/ca.pem]
services:
  frontend: { rpc: { grpcPort: $FE, membershipPort: $((FE + 10)), bindOnLocalHost: true } }
  history: { rpc: { grpcPort: $HISTORY, membershipPort: $((HISTORY + 10)), bindOnLocalHost: true } }
  matching: { rpc: { grpcPort: $MATCHING, membershipPort: $((MATCHING + 10)), bindOnLocalHost: true } }
  worker: { rpc: { grpcPort: $WORKER, membershipPort: $((WORKER + 10)), bindOnLocalHost: true } }
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active: { enabled: true, initialFailoverVersion: 1, rpcName: frontend, rpcAddress: "127.0.0.1:$FE" }
dcRedirectionPolicy: { policy: noop }
archival: { history: { state: disabled }, visibility: { state: disabled } }
namespaceDefaults: { archival: { history: { state: disabled }, visibility: { state: disabled } } }
publicClient: { hostPort: "127.0.0.1:$FE" }
dynamicConfigClient: { filepath: $DIR/config/dynamicconfig.yaml, pollInterval: 60s }
EOF
  )
  # search attributes added by `osbackup temporal setup` are usable at once, not after the cache's minute
  cat >"$DIR/config/dynamicconfig.yaml" <<'EOF'
system.forceSearchAttributesCacheRefreshOnRead:
  - value: true
    constraints: {}
EOF
}

server_up() {
  # the pid is written by the process that becomes the server: setsid forks where it must lead a group
  # shellcheck disable=SC2016
  setsid bash -c 'echo $$ >"$1/server.pid"; exec "$2" --config-file "$1/config/temporal.yaml" --allow-no-auth start' \
    _ "$DIR" "$CACHE/bin/server" </dev/null >"$DIR/server.log" 2>&1 &
  for _ in $(seq 1 50); do [ -s "$DIR/server.pid" ] && break; sleep 0.05; done
  local t0=$SECONDS
  until healthy; do
    server_pid >/dev/null || {
      tail -n 20 "$DIR/server.log" >&2
      die "the Temporal server exited (log $DIR/server.log)"
    }
    [ $((SECONDS - t0)) -lt 60 ] || die "the Temporal server did not answer SERVING on 127.0.0.1:$FE in 60 s (log $DIR/server.log)"
    sleep 0.2
  done
  # SERVING says nothing of the system worker: it must have connected to the frontend (with its
  # certificate) and be polling, or no schedule ever fires. Before the frontend is healthy the
  # worker's attempts fail as "not healthy yet"; any other failure is its TLS setup.
  local refused
  until grep -q '"msg":"Started Worker","Namespace":"temporal-system"' "$DIR/server.log"; do
    refused=$(grep 'error creating sdk client' "$DIR/server.log" | grep -v 'not healthy yet' | head -n 1 || true)
    if [ -n "$refused" ]; then
      echo "$refused" >&2
      die "the server's system worker cannot connect to its frontend: schedules would never run. Fix: global.tls.systemWorker (a client certificate the frontend trusts)"
    fi
    [ $((SECONDS - t0)) -lt 60 ] || die "the server's system worker did not start in 60 s (log $DIR/server.log)"
    sleep 0.2
  done
}

# The lab's config, on this cluster: the same clouds, hosts and secrets; Temporal over mTLS.
config() {
  local lab=${1:-$LAB_CONFIG}
  [ -f "$lab" ] || die "no lab config at $lab: bring the lab up first (test/lab/lab.sh up)"
  [ -f "$DIR/certs/ca.pem" ] || die "the cluster is not up ($DIR): test/lab/temporal-cluster.sh up"
  (cd "$root" && node --input-type=module - "$lab" "$DIR/osbackup.yml" "127.0.0.1:$FE" "$DIR/certs") <<'EOF'
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
const [lab, out, address, certs] = process.argv.slice(2);
const c = parse(readFileSync(lab, 'utf8'));
c.temporal.address = address;
c.temporal.tls = { serverRootCaFile: `${certs}/ca.pem`, clientCertFile: `${certs}/client.pem`, clientKeyFile: `${certs}/client.key` };
delete c.temporal.uiUrl; // the cluster has no UI
const head = `# Written by test/lab/temporal-cluster.sh: ${lab} on the lab's Temporal cluster (mutual TLS).\n`;
writeFileSync(out, head + stringify(c));
EOF
  [ -f "$root/dist/client/cli.js" ] || die "osbackup is not built: npx tsc -p tsconfig.json"
  node "$root/dist/client/cli.js" --config "$DIR/osbackup.yml" temporal setup --retention-days 1 | sed 's/^/  /' >&2
  log "config for this cluster: $DIR/osbackup.yml"
}

up() {
  local t0=$SECONDS
  build
  # a failed bring-up stops what it started; its logs stay in $DIR until the next up or down
  trap '[ $? = 0 ] || stop' EXIT
  [ -x "$PG_BIN/initdb" ] || die "no PostgreSQL 15 at $PG_BIN. Fix: apt-get install postgresql (./dev setup)"
  [ -x "$TEMPORAL_CLI" ] || die "no temporal CLI at $TEMPORAL_CLI. Fix: ./dev setup, or TEMPORAL_CLI=<path>"
  down
  for p in $PG $FE $HISTORY $MATCHING $WORKER $((FE + 10)) $((HISTORY + 10)) $((MATCHING + 10)) $((WORKER + 10)); do
    ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || die "port $p is taken: another cluster is up? Fix: its down, or CLUSTER_PORT=<another base>"
  done
  mkdir -p "$DIR/secrets"
  chmod 700 "$DIR/secrets"
  pg_up
  log "PostgreSQL 15 on 127.0.0.1:$PG ($((SECONDS - t0)) s)"
  certs_up &
  local certs=$!
  schema_up temporal temporal &
  local s1=$!
  schema_up temporal_visibility visibility
  wait $s1 || exit 1
  wait $certs || die "the certificates could not be made"
  log "schema set up, certificates made ($((SECONDS - t0)) s)"
  config_up
  server_up
  log "Temporal $VERSION on 127.0.0.1:$FE (mutual TLS; CA $DIR/certs/ca.pem) up in $((SECONDS - t0)) s"
  if [ -n "$LAB_CONFIG" ] && [ -f "$LAB_CONFIG" ]; then config; fi
  trap - EXIT
}

status() {
  server_pid >/dev/null || die "the Temporal cluster is not running"
  healthy || die "the Temporal cluster does not answer SERVING on 127.0.0.1:$FE"
  log "SERVING on 127.0.0.1:$FE (mutual TLS); config $DIR/osbackup.yml"
}

case ${1:-} in
  build) build ;;
  up) up ;;
  config) config "${2:-}" ;;
  down) down ;;
  status) status ;;
  *)
    echo "usage: $0 build|up|config [lab-config]|down|status" >&2
    exit 2
    ;;
esac
