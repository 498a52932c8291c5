#!/usr/bin/env bash
# A real RabbitMQ broker (Debian's rabbitmq-server) on a lab host (a network namespace), with
# everything it owns under <hostdir>/rabbitmq/: config, Erlang cookie, mnesia, logs, pid file.
# Sourced by lab.sh (functions rmq_*), or run on its own:
#
#   test/lab/rabbitmq.sh start    <netns> <hostdir> <address>   start a broker (AMQP on <address>:5672)
#   test/lab/rabbitmq.sh stop     <netns> <hostdir>             stop it (and the netns's epmd)
#   test/lab/rabbitmq.sh populate <netns> <hostdir>             OpenStack-shaped vhosts/users/policies/exchanges/queues/bindings
#   test/lab/rabbitmq.sh reset    <netns> <hostdir> [address]   stop, wipe, start empty (a restore target)
#   test/lab/rabbitmq.sh env      <netns> <hostdir>             print the environment rabbitmqctl needs
#
# Node naming: every broker is rabbit@localhost. "localhost" resolves to 127.0.0.1 in every
# namespace, and each namespace has its own loopback, so one epmd per namespace (port 4369) and
# one distribution port per namespace (25672) never clash between hosts. epmd and the
# distribution listen on 127.0.0.1 only: rabbitmqctl works from a shell inside the namespace
# (as over SSH on the host), nothing outside reaches the Erlang distribution.
# The CLI finds the node with RABBITMQ_NODENAME=rabbit@localhost and the cookie with
# HOME=<hostdir>/rabbitmq. It must be called as /usr/lib/rabbitmq/bin/rabbitmqctl: Debian's
# /usr/sbin/rabbitmqctl wrapper runs `su rabbitmq`, which resets HOME to /var/lib/rabbitmq.
# Knobs: RMQ_START_TIMEOUT (seconds, default 60).
set -euo pipefail
RMQ_BIN=/usr/lib/rabbitmq/bin
RMQ_NODE=rabbit@localhost
RMQ_START_TIMEOUT=${RMQ_START_TIMEOUT:-60}
declare -F log >/dev/null || log() { printf '[rabbitmq %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
declare -F die >/dev/null || die() { log "ERROR: $*"; exit 1; }

# The environment of the broker and of every CLI call (one place, so they always agree).
rmq_env() {
  local d=$1/rabbitmq
  printf '%s\n' \
    "HOME=$d" \
    "RABBITMQ_NODENAME=$RMQ_NODE" \
    "RABBITMQ_CONF_ENV_FILE=$d/rabbitmq-env.conf" \
    "RABBITMQ_CONFIG_FILE=$d/rabbitmq.conf" \
    "RABBITMQ_ADVANCED_CONFIG_FILE=$d/advanced.config" \
    "RABBITMQ_ENABLED_PLUGINS_FILE=$d/enabled_plugins" \
    "RABBITMQ_MNESIA_BASE=$d/mnesia" \
    "RABBITMQ_LOG_BASE=$d/log" \
    "RABBITMQ_PID_FILE=$d/rabbitmq.pid" \
    "ERL_EPMD_ADDRESS=127.0.0.1"
}

# rmq_ctl <netns> <hostdir> <rabbitmqctl args…>: the CLI inside the namespace
rmq_ctl() {
  local ns=$1 hd=$2; shift 2
  local e; mapfile -t e < <(rmq_env "$hd")
  ip netns exec "$ns" env "${e[@]}" "$RMQ_BIN/rabbitmqctl" "$@"
}

rmq_pid() { local f=$1/rabbitmq/rabbitmq.pid; [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"; }

rmq_start() {
  local ns=$1 hd=$2 addr=$3 d=$2/rabbitmq
  ip netns list | grep -qw "$ns" || die "no network namespace $ns"
  if rmq_pid "$hd" >/dev/null; then die "a broker already runs for $hd (pid $(rmq_pid "$hd"))"; fi
  mkdir -p "$d/mnesia" "$d/log"
  chmod 700 "$d"
  echo "$addr" > "$d/address"
  if [ ! -s "$d/.erlang.cookie" ]; then
    (umask 077; head -c 30 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32 > "$d/.erlang.cookie")
    chmod 400 "$d/.erlang.cookie"
  fi
  : > "$d/rabbitmq-env.conf"   # keep /etc/rabbitmq/rabbitmq-env.conf out of it
  cat > "$d/rabbitmq.conf" <<CONF
listeners.tcp.1 = $addr:5672
management.tcp.ip = 127.0.0.1
management.tcp.port = 15672
log.file.level = info
log.console = false
CONF
  # management: the HTTP API is the only stock way to declare queues/exchanges/bindings without an
  # AMQP client library (rabbitmqctl cannot); Kolla enables it too
  echo '[rabbitmq_management].' > "$d/enabled_plugins"
  local e; mapfile -t e < <(rmq_env "$hd")
  local t0; t0=$(date +%s.%N)
  # setsid: the broker outlives this script; as root, bypassing Debian's su wrapper (see top)
  ip netns exec "$ns" setsid env "${e[@]}" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1} +sbwt none +sbwtdcpu none +sbwtdio none' \
    "$RMQ_BIN/rabbitmq-server" </dev/null >"$d/log/startup.log" 2>&1 &
  # `rabbitmqctl wait <pidfile>` waits for the pid file, then for the app, and gives up when the
  # OS process dies; timeout(1) bounds the whole thing
  if ! timeout "$RMQ_START_TIMEOUT" ip netns exec "$ns" env "${e[@]}" "$RMQ_BIN/rabbitmqctl" -q wait --timeout "$RMQ_START_TIMEOUT" "$d/rabbitmq.pid" >"$d/log/wait.log" 2>&1; then
    tail -n 15 "$d/log/startup.log" "$d/log/wait.log" >&2 || true
    die "RabbitMQ on $ns ($hd) did not become ready within ${RMQ_START_TIMEOUT}s (logs: $d/log)"
  fi
  local t1; t1=$(date +%s.%N)
  log "rabbitmq: $ns up at $addr:5672 as $RMQ_NODE in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s (pid $(cat "$d/rabbitmq.pid"))"
}

# rmq_stop <netns> <hostdir> [kill]: a clean stop (~5 s of broker shutdown plus ~2 s of CLI
# start-up here), or with "kill" a SIGKILL (for reset, which throws the data away anyway)
rmq_stop() {
  local ns=$1 hd=$2 how=${3:-clean} pid
  pid=$(rmq_pid "$hd" || true)
  if [ -n "$pid" ] && [ "$how" = kill ]; then
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  elif [ -n "$pid" ]; then
    rmq_ctl "$ns" "$hd" -q stop "$hd/rabbitmq/rabbitmq.pid" >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$hd/rabbitmq/rabbitmq.pid"
  # epmd (started by the first Erlang node in the namespace) outlives the broker: stop it when
  # no other Erlang VM is left in this namespace
  local p others=0 epmds=()
  for p in $(ip netns pids "$ns" 2>/dev/null || true); do
    case $(cat "/proc/$p/comm" 2>/dev/null) in
      epmd) epmds+=("$p") ;;
      beam.smp) others=1 ;;
    esac
  done
  if [ "$others" = 0 ] && [ ${#epmds[@]} -gt 0 ]; then kill -TERM "${epmds[@]}" 2>/dev/null || true; fi
}

rmq_reset() {
  local ns=$1 hd=$2 addr=${3:-}
  [ -n "$addr" ] || addr=$(cat "$hd/rabbitmq/address" 2>/dev/null) || die "reset: give the address (no earlier start recorded in $hd/rabbitmq/address)"
  rmq_stop "$ns" "$hd" kill
  rm -rf "$hd/rabbitmq"
  rmq_start "$ns" "$hd" "$addr"
}

# OpenStack-shaped definitions: what Kolla and oslo.messaging leave on a broker, in small.
# Everything goes through the management HTTP API on 127.0.0.1 as guest (allowed from loopback
# only): one rabbitmqctl call costs ~2 s of CLI start-up here, a curl a few milliseconds.
rmq_populate() {
  local ns=$1 hd=$2
  local api=(ip netns exec "$ns" curl -sS --fail-with-body -u guest:guest -H 'content-type: application/json')
  local base=http://127.0.0.1:15672/api
  put() { "${api[@]}" -X PUT "$base/$1" -d "$2" >/dev/null || die "populate: PUT $1 failed"; }
  post() { "${api[@]}" -X POST "$base/$1" -d "$2" >/dev/null || die "populate: POST $1 failed"; }
  pw() { head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9'; }
  local v u svc q all='{"configure":".*","write":".*","read":".*"}'
  for v in nova neutron cinder; do put "vhosts/$v" '{"description":"'"$v"' RPC and notifications","tags":"openstack"}'; done
  put users/openstack '{"password":"'"$(pw)"'","tags":"administrator"}'
  put users/monitoring '{"password":"'"$(pw)"'","tags":"monitoring,management"}'
  for u in nova neutron cinder; do put "users/$u" '{"password":"'"$(pw)"'","tags":""}'; done
  for v in %2F nova neutron cinder; do put "permissions/$v/openstack" "$all"; done
  put permissions/nova/nova "$all"
  put permissions/neutron/neutron '{"configure":"^(q-|neutron).*","write":".*","read":".*"}'
  put permissions/cinder/cinder '{"configure":".*","write":"^cinder.*","read":".*"}'
  put permissions/nova/monitoring '{"configure":"","write":"","read":".*"}'
  put topic-permissions/nova/nova '{"exchange":"nova","write":"^notifications\\..*","read":"^notifications\\..*"}'
  # Kolla's HA policy for all but reply/fanout queues; a TTL policy for notifications
  for v in nova neutron cinder; do
    put "policies/$v/ha-all" '{"pattern":"^(?!(amq\\.)|(.*_fanout_)|(reply_)).*","apply-to":"queues","priority":0,"definition":{"ha-mode":"all","ha-promote-on-shutdown":"always"}}'
  done
  put policies/nova/notifications-ttl '{"pattern":"^notifications\\.","apply-to":"queues","priority":1,"definition":{"message-ttl":600000,"max-length":10000}}'
  put vhost-limits/cinder/max-queues '{"value":1000}'
  for svc in nova neutron cinder; do
    put "exchanges/$svc/$svc" '{"type":"topic","durable":true,"auto_delete":false}'
    put "exchanges/$svc/openstack" '{"type":"topic","durable":true}'
    put "exchanges/$svc/${svc}_fanout" '{"type":"fanout","durable":true}'
    put "exchanges/$svc/${svc}.direct" '{"type":"direct","durable":true,"arguments":{"alternate-exchange":"'"$svc"'_fanout"}}'
  done
  # nova: compute/scheduler/conductor topics, host-addressed queues, a fanout, notifications
  for q in compute scheduler conductor compute.ctl1 scheduler.ctl1 conductor.ctl1 notifications.info notifications.error; do
    put "queues/nova/$q" '{"durable":true,"arguments":{"x-queue-type":"classic"}}'
    post "bindings/nova/e/nova/q/$q" '{"routing_key":"'"$q"'"}'
  done
  put queues/nova/compute_fanout_0a1b2c '{"durable":false,"auto_delete":false,"arguments":{"x-expires":1800000}}'
  post bindings/nova/e/nova_fanout/q/compute_fanout_0a1b2c '{"routing_key":""}'
  post bindings/nova/e/openstack/e/nova '{"routing_key":"notifications.#"}'
  put queues/nova/reply_9f8e7d '{"durable":false,"arguments":{"x-expires":1800000}}'
  post bindings/nova/e/nova.direct/q/reply_9f8e7d '{"routing_key":"reply_9f8e7d"}'
  # neutron: agent topics (q-*), one quorum queue
  for q in q-plugin q-l3-plugin q-reports-plugin q-agent-notifier-port-update q-agent-notifier-network-delete; do
    put "queues/neutron/$q" '{"durable":true}'
    post "bindings/neutron/e/neutron/q/$q" '{"routing_key":"'"$q"'"}'
  done
  put queues/neutron/q-server-resource-versions '{"durable":true,"arguments":{"x-queue-type":"quorum"}}'
  post bindings/neutron/e/neutron/q/q-server-resource-versions '{"routing_key":"q-server-resource-versions","arguments":{"x-note":"lab"}}'
  post bindings/neutron/e/neutron_fanout/q/q-agent-notifier-port-update '{"routing_key":""}'
  # cinder: scheduler/volume/backup and host@backend queues (priority queues)
  for q in cinder-scheduler cinder-volume cinder-backup cinder-volume.ctl1@nfs-1 cinder-volume.ctl1; do
    put "queues/cinder/$q" '{"durable":true,"arguments":{"x-max-priority":10}}'
    post "bindings/cinder/e/cinder/q/$q" '{"routing_key":"'"$q"'"}'
  done
  post bindings/cinder/e/cinder.direct/q/cinder-backup '{"routing_key":"backup"}'
  put queues/%2F/heartbeat-probe '{"durable":true}'
  log "rabbitmq: $ns populated ($("${api[@]}" "$base/overview" | grep -o '"queues":[0-9]*' | head -1), 4 vhosts, 6 users)"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  case ${1:-} in
    start) [ $# -eq 4 ] || die "usage: $0 start <netns> <hostdir> <address>"; rmq_start "$2" "$3" "$4" ;;
    stop) [ $# -eq 3 ] || die "usage: $0 stop <netns> <hostdir>"; rmq_stop "$2" "$3" ;;
    populate) [ $# -eq 3 ] || die "usage: $0 populate <netns> <hostdir>"; rmq_populate "$2" "$3" ;;
    reset) [ $# -ge 3 ] || die "usage: $0 reset <netns> <hostdir> [address]"; rmq_reset "$2" "$3" "${4:-}" ;;
    env) [ $# -eq 3 ] || die "usage: $0 env <netns> <hostdir>"; rmq_env "$3" ;;
    *) echo "usage: $0 start|stop|populate|reset|env <netns> <hostdir> [address]" >&2; exit 2 ;;
  esac
fi
