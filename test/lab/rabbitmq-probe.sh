#!/usr/bin/env bash
# Proof for the RabbitMQ pieces, on its own namespaces (osbh-rmqa/b on 10.232.10.0/24, no lab
# needed): start broker A, populate it, start B, then the jest integration test exports A with
# the activity's script, resets B to an empty broker, imports, exports B and diffs (no
# differences). Timings land in $PROBE_DIR/timings.json. Everything is removed at the end.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
PROBE_DIR=${PROBE_DIR:-/tmp/osbh-rmq-probe}
source "$here/rabbitmq.sh"

cleanup() {
  for n in a b; do
    rmq_stop osbh-rmq$n "$PROBE_DIR/$n" 2>/dev/null || true
    pids=$(ip netns pids osbh-rmq$n 2>/dev/null || true); [ -n "$pids" ] && kill -KILL $pids 2>/dev/null || true
    ip netns del osbh-rmq$n 2>/dev/null || true
  done
}
trap cleanup EXIT
cleanup
rm -rf "$PROBE_DIR"; mkdir -p "$PROBE_DIR/a" "$PROBE_DIR/b"
ip netns add osbh-rmqa; ip netns add osbh-rmqb
ip -n osbh-rmqa link set lo up; ip -n osbh-rmqb link set lo up
ip -n osbh-rmqa link add eth0 type veth peer name eth0 netns osbh-rmqb
ip -n osbh-rmqa addr add 10.232.10.11/24 dev eth0; ip -n osbh-rmqa link set eth0 up
ip -n osbh-rmqb addr add 10.232.10.12/24 dev eth0; ip -n osbh-rmqb link set eth0 up

# two brokers at once, one per namespace: each has its own epmd and distribution port
rmq_start osbh-rmqa "$PROBE_DIR/a" 10.232.10.11 & pa=$!
rmq_start osbh-rmqb "$PROBE_DIR/b" 10.232.10.12 & pb=$!
wait $pa; wait $pb
t0=$(date +%s.%N); rmq_populate osbh-rmqa "$PROBE_DIR/a"; t1=$(date +%s.%N)
log "populate took $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s"

cd "$root"
RMQ_NETNS_A=osbh-rmqa RMQ_HOSTDIR_A="$PROBE_DIR/a" RMQ_NETNS_B=osbh-rmqb RMQ_HOSTDIR_B="$PROBE_DIR/b" RMQ_ADDRESS_B=10.232.10.12 \
  RMQ_PROBE_OUT="$PROBE_DIR/timings.json" NODE_OPTIONS=--experimental-vm-modules \
  npx jest test/integration/rabbitmq --selectProjects integration
cat "$PROBE_DIR/timings.json"
