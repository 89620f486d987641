#!/bin/sh
# Three Emergence nodes on one machine, each in its own network namespace (its own "host": own IP, own ports)
# with its own data dir, joined by a bridge. Node 1 builds a small image; nodes 2 and 3 pull it from the cluster,
# verified; then everything is stopped and removed. Needs root (ip netns) and a built checkout (scripts/setup.sh).
#
#   sudo examples/three-node-cluster.sh            # KEEP=1 waits for Enter before cleaning up, to look around
#
# The namespaces are <prefix>-n1..n3 and <prefix>-sw (the switch: the bridge lives in a namespace of its own, so
# nothing changes in the host's network). NS_PREFIX (default embx) and NET (default 10.231.0) change them.
set -eu

P=${NS_PREFIX:-embx}
NET=${NET:-10.231.0}
HERE=$(cd "$(dirname "$0")" && pwd)
EMERGENCE=${EMERGENCE:-$HERE/../bin/emergence}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/emergence-cluster.XXXXXX")

# `em 2 pull ...` runs the CLI for node 2, inside its namespace, on its data dir.
em () {
  n=$1
  shift
  ip netns exec "$P-n$n" "$EMERGENCE" --data-dir "$WORK/n$n" "$@"
}

say () {
  printf '\n== %s\n' "$*"
}

cleanup () {
  for n in 1 2 3; do
    [ -S "$WORK/n$n/emergence.sock" ] && em "$n" node stop >/dev/null 2>&1 || true
    # Whatever still runs in the namespace (a node that would not stop) is killed by its pid.
    for pid in $(ip netns pids "$P-n$n" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$P-n$n" 2>/dev/null || true
  done
  ip netns del "$P-sw" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "network: namespaces $P-n1..3 on a bridge in $P-sw, addresses $NET.1-3"
ip netns add "$P-sw"
ip -n "$P-sw" link add br0 type bridge
ip -n "$P-sw" link set br0 up
for n in 1 2 3; do
  ip netns add "$P-n$n"
  ip link add "${P}h$n" type veth peer name "${P}s$n"
  ip link set "${P}h$n" netns "$P-n$n"
  ip link set "${P}s$n" netns "$P-sw"
  ip -n "$P-sw" link set "${P}s$n" master br0 up
  ip -n "$P-n$n" addr add "$NET.$n/24" dev "${P}h$n"
  ip -n "$P-n$n" link set "${P}h$n" up
  ip -n "$P-n$n" link set lo up
done

say "node 1: start it, then read its peer id"
em 1 node start --detach --no-mdns --listen "/ip4/$NET.1/tcp/7701"
ID1=$(em 1 node status | awk '/^peer id/ { print $3 }')
SEED="/ip4/$NET.1/tcp/7701/p2p/$ID1"
echo "node 1 is $SEED"

say "nodes 2 and 3: bootstrap from node 1, and trust it to say which digest a tag names"
for n in 2 3; do
  em "$n" node start --detach --no-mdns --listen "/ip4/$NET.$n/tcp/7701" --bootstrap "$SEED" --trusted "$ID1"
done

say "node 1: build a small image (one layer: a directory)"
mkdir -p "$WORK/site"
echo "hello from node 1" > "$WORK/site/index.html"
em 1 image build --from scratch --add "$WORK/site:/srv" -t example/site:1

say "nodes 2 and 3: pull it from the cluster at the same time, every piece verified"
em 2 pull example/site:1 &
pull2=$!
em 3 pull example/site:1 &
pull3=$!
wait "$pull2"
wait "$pull3"

say "every node holds the same image, and its store verifies"
for n in 1 2 3; do
  echo "node $n: $(em "$n" image ls | awk '$1 == "example/site:1" { print $1, $2 }')"
  em "$n" store verify
done
em 1 node status

if [ "${KEEP:-0}" = 1 ]; then
  say "the cluster runs: try \`ip netns exec $P-n2 $EMERGENCE --data-dir $WORK/n2 peers\`; Enter stops it"
  read -r _
fi
say "done: stopping the nodes and removing the namespaces"
