#!/bin/sh
# containerd pulling through an Emergence node's registry mirror (docs/registry.md), on one machine:
#
#   1. an upstream registry (Debian's docker-registry on loopback) holds example/hello:1, published with skopeo;
#   2. node 1 pulls it through from the upstream (`emergence pull <registry>/example/hello:1`, the node being
#      configured with that upstream) and announces it: the first pull of the cluster;
#   3. node 2, which trusts node 1, serves its mirror; `emergence containerd configure` writes containerd's
#      hosts.toml (mirror first, the upstream as fallback);
#   4. a private containerd (its own config, root, state and socket) pulls the image by hosts.toml alone and
#      `ctr run`s it: every byte came from node 1 through node 2's mirror, and the upstream served each blob once.
#
#   sudo examples/containerd-mirror/run.sh     # needs root (containerd), a built checkout (scripts/setup.sh),
#                                              # docker-registry, skopeo, containerd and runc (Debian packages)
#
# Ports (loopback): REGISTRY_PORT (5000), NODE1_PORT (7711) and NODE2_PORT (7712) for libp2p, MIRROR_PORT (7713).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
EMERGENCE=${EMERGENCE:-$HERE/../../bin/emergence}
REGISTRY_PORT=${REGISTRY_PORT:-5000}
NODE1_PORT=${NODE1_PORT:-7711}
NODE2_PORT=${NODE2_PORT:-7712}
MIRROR_PORT=${MIRROR_PORT:-7713}
UPSTREAM=127.0.0.1:$REGISTRY_PORT
IMAGE=$UPSTREAM/example/hello:1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/emergence-containerd.XXXXXX")
REGISTRY_PID=
CONTAINERD_PID=

# `em 2 node status` runs the CLI on node 2's data dir.
em () {
  n=$1
  shift
  "$EMERGENCE" --data-dir "$WORK/n$n" "$@"
}

ctr_ () {
  ctr -a "$WORK/containerd/containerd.sock" "$@"
}

say () {
  printf '\n== %s\n' "$*"
}

cleanup () {
  for n in 1 2; do
    [ -S "$WORK/n$n/emergence.sock" ] && em "$n" node stop >/dev/null 2>&1 || true
  done
  [ -n "$CONTAINERD_PID" ] && kill "$CONTAINERD_PID" 2>/dev/null && wait "$CONTAINERD_PID" 2>/dev/null || true
  [ -n "$REGISTRY_PID" ] && kill "$REGISTRY_PID" 2>/dev/null && wait "$REGISTRY_PID" 2>/dev/null || true
  # Snapshots containerd left mounted under the work dir, innermost first.
  for m in $(awk -v w="$WORK" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r); do umount "$m" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits until "$@" succeeds (at most 30 s).
wait_for () {
  i=0
  until "$@" >/dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -lt 300 ] || { echo "timed out waiting for: $*" >&2; exit 1; }
    sleep 0.1
  done
}

say "upstream registry at $UPSTREAM (docker-registry; its access log counts what it serves)"
mkdir -p "$WORK/registry"
printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' "$WORK/registry/data" "$UPSTREAM" > "$WORK/registry/config.yml"
docker-registry serve "$WORK/registry/config.yml" > "$WORK/registry/access.log" 2>&1 &
REGISTRY_PID=$!
wait_for curl -sf "http://$UPSTREAM/v2/"

say "publish example/hello:1 to the upstream (built offline with emergence, pushed with skopeo)"
mkdir -p "$WORK/rootfs/bin"
cp /bin/busybox "$WORK/rootfs/bin/busybox"
echo "hello from a peer, through the mirror" > "$WORK/rootfs/hello"
em 0 image build --from scratch --add "$WORK/rootfs:/" --cmd '["/bin/busybox","cat","/hello"]' -t example/hello:1 >/dev/null
skopeo copy -q --dest-tls-verify=false "oci:$WORK/n0/oci:example/hello:1" "docker://$IMAGE"

say "node 1: pulls through from the upstream, the first pull of the cluster"
em 1 node start --detach --no-mdns --listen "/ip4/127.0.0.1/tcp/$NODE1_PORT" --nix-cache off --registry off --registry-upstream "http://$UPSTREAM" >/dev/null
ID1=$(em 1 node status | awk '/^peer id/ { print $3 }')
em 1 pull "$IMAGE"

say "node 2: trusts node 1, runs the mirror on 127.0.0.1:$MIRROR_PORT"
em 2 node start --detach --no-mdns --listen "/ip4/127.0.0.1/tcp/$NODE2_PORT" --nix-cache off \
  --bootstrap "/ip4/127.0.0.1/tcp/$NODE1_PORT/p2p/$ID1" --trusted "$ID1" \
  --registry "127.0.0.1:$MIRROR_PORT" --registry-upstream "http://$UPSTREAM" >/dev/null
em 2 containerd configure --config-path "$WORK/certs.d" --registry-host "$UPSTREAM" --server "http://$UPSTREAM" --mirror "http://127.0.0.1:$MIRROR_PORT"
cat "$WORK/certs.d/$UPSTREAM/hosts.toml"

say "containerd (private instance) pulls $IMAGE by hosts.toml alone, and runs it"
mkdir -p "$WORK/containerd"
cat > "$WORK/containerd/config.toml" <<TOML
version = 2
root = "$WORK/containerd/root"
state = "$WORK/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$WORK/containerd/containerd.sock"
[ttrpc]
  address = "$WORK/containerd/containerd.sock.ttrpc"
TOML
containerd --config "$WORK/containerd/config.toml" > "$WORK/containerd/log" 2>&1 &
CONTAINERD_PID=$!
wait_for ctr_ version
ctr_ images pull --hosts-dir "$WORK/certs.d" "$IMAGE" > /dev/null
ctr_ images ls -q
ctr_ run --rm "$IMAGE" "hello-$$"

say "where the bytes came from"
echo "node 2 received $(em 2 --json node status | awk -F': ' '/"receivedBytes"/ { sub(/,$/, "", $2); print $2 }') bytes from its peers"
echo "the upstream served $(grep -c 'GET /v2/example/hello/blobs/' "$WORK/registry/access.log") blob download(s) for the whole cluster"
