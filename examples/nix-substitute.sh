#!/bin/sh
# Nix substitutes from an Emergence node. Node 1 shares a small closure from the system Nix store; node 2, which
# does not hold it (its Nix store is a directory of its own), answers `nix copy --from http://127.0.0.1:<port>`
# from its binary cache: it fetches the closure from node 1 on demand, verifies it against node 1's signature
# (node 2 trusts node 1's Nix key), and signs what it serves with its own key, which Nix is told to trust.
# Both nodes run on loopback; on a cluster each host runs one node and Nix asks its own host's node.
#
#   examples/nix-substitute.sh       # needs Nix (Debian's nix-bin 2.8 is enough) and a built checkout
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
EMERGENCE=${EMERGENCE:-$HERE/../bin/emergence}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/emergence-nix.XXXXXX")
# Nix 2.8 keeps `nix copy` behind this flag.
NIX="nix --extra-experimental-features nix-command"

em () {
  n=$1
  shift
  "$EMERGENCE" --data-dir "$WORK/n$n" "$@"
}

say () {
  printf '\n== %s\n' "$*"
}

cleanup () {
  for n in 1 2; do
    [ -S "$WORK/n$n/emergence.sock" ] && em "$n" node stop >/dev/null 2>&1 || true
  done
  chmod -R u+w "$WORK" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "build a small closure (the builder is the host's /bin/sh: no nixpkgs needed, hence no sandbox)"
cat > "$WORK/hello.nix" <<'NIX'
builtins.derivation {
  name = "emergence-example-hello";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  args = [ "-c" "/bin/mkdir -p $out/bin && printf '#!/bin/sh\\necho hello, substituted from a peer\\n' > $out/bin/hello && /bin/chmod +x $out/bin/hello" ];
}
NIX
OUT=$(nix-build --option sandbox false --option substituters '' --out-link "$WORK/result" "$WORK/hello.nix")
echo "$OUT"

say "node 1: share the closure (records signed with node 1's Nix key)"
em 1 node start --detach --no-mdns --listen /ip4/127.0.0.1/tcp/0 --nix-cache off --registry off
em 1 nix share "$OUT"
ADDR1=$(em 1 node status | awk '/^addresses/ { print $2 }')
KEY1=$(em 1 node status | awk '/^nix key/ { print $3 }')

say "node 2: its own Nix store, its binary cache on a free loopback port, trusting node 1's key"
em 2 node start --detach --no-mdns --listen /ip4/127.0.0.1/tcp/0 --bootstrap "$ADDR1" --registry off \
  --nix-cache 127.0.0.1:0 --nix-store "$WORK/n2-nix" --nix-trusted-key "$KEY1"
CACHE=$(em 2 node status | awk '/^nix cache/ { print $3 }')
KEY2=$(em 2 node status | awk '/^nix key/ { print $3 }')
echo "node 2's cache: $CACHE"

say "nix copy from node 2's cache (the system store already holds the path, so copy into a store directory)"
# On another host, leave out --to: the closure lands in the system store. A fresh XDG cache, since Nix remembers
# a 404 for an hour (narinfo-cache-negative-ttl).
XDG_CACHE_HOME="$WORK/xdg-cache" $NIX copy --from "$CACHE" --to "$WORK/copy" \
  --option substituters '' --option require-sigs true --option trusted-public-keys "$KEY2" "$OUT"
nix-store --store "$WORK/copy" --verify-path "$OUT"
"$WORK/copy$OUT/bin/hello"

say "node 2 keeps what it fetched, and serves it onward"
em 2 nix ls
say "done: stopping the nodes"
