#!/usr/bin/env bash
# A development cluster on loopback: a three-member etcd cluster, a three-server NATS
# JetStream cluster, and three wdo nodes serving the examples of wdo.toml on
# http://127.0.0.1:8801, :8802 and :8803 (admin and metrics on :9801, :9802, :9803). Any node
# serves any object. State lives in .wdo/cluster/ (removed at each start). Ctrl-C stops it all.
# Extra arguments go to every `wdo serve`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
need_guest_targets
need_protoc
need_cluster_engines
cd "$repo"
echo "cluster: building the host (release)"
cargo build --release -p wdo-host --bin wdo
wdo="$CARGO_TARGET_DIR/release/wdo"
echo "cluster: building the examples"
"$wdo" build --config wdo.toml
state="$repo/.wdo/cluster"
rm -rf "$state"
mkdir -p "$state"
pids=()
stop() {
    echo "cluster: stopping"
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap stop EXIT INT TERM

etcd_members="e1=http://127.0.0.1:2381,e2=http://127.0.0.1:2382,e3=http://127.0.0.1:2383"
for i in 1 2 3; do
    etcd --name "e$i" --data-dir "$state/etcd$i" \
        --listen-client-urls "http://127.0.0.1:237$i" --advertise-client-urls "http://127.0.0.1:237$i" \
        --listen-peer-urls "http://127.0.0.1:238$i" --initial-advertise-peer-urls "http://127.0.0.1:238$i" \
        --initial-cluster "$etcd_members" --initial-cluster-state new --initial-cluster-token wdo-dev \
        >"$state/etcd$i.log" 2>&1 &
    pids+=($!)
done
for i in 1 2 3; do
    routes=""
    for j in 1 2 3; do
        [ "$i" = "$j" ] || routes="$routes \"nats-route://127.0.0.1:624$j\""
    done
    cat >"$state/nats$i.conf" <<CONF
server_name: n$i
host: 127.0.0.1
port: 422$i
jetstream { store_dir: "$state/nats$i" }
cluster { name: wdo-dev, listen: 127.0.0.1:624$i, routes: [$routes] }
CONF
    nats-server -c "$state/nats$i.conf" >"$state/nats$i.log" 2>&1 &
    pids+=($!)
done
for i in 1 2 3; do
    cat >"$state/node$i.toml" <<CONF
node-id = "node$i"
advertise = "127.0.0.1:880$i"
etcd = ["127.0.0.1:2371", "127.0.0.1:2372", "127.0.0.1:2373"]
nats = ["127.0.0.1:4221", "127.0.0.1:4222", "127.0.0.1:4223"]
CONF
    "$wdo" serve --config wdo.toml --cluster "$state/node$i.toml" \
        --listen "127.0.0.1:880$i" --admin-listen "127.0.0.1:980$i" --data-dir "$state/node$i" "$@" \
        2>"$state/node$i.log" &
    pids+=($!)
done
echo "cluster: logs in $state/*.log; try: curl -X POST http://127.0.0.1:8801/counter/a/increment; curl http://127.0.0.1:8803/counter/a/get"
wait -n "${pids[@]}" || true
echo "cluster: a process ended; see $state/*.log" >&2
