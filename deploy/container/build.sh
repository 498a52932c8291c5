#!/usr/bin/env bash
# Builds the osbackup worker's container image with no registry: a Debian bookworm base made
# with debootstrap (cached outside the clone, made once per package set), a Node 20+ binary taken
# from this machine, and the npm package installed as an operator installs it.
#
#   build.sh [--tarball osbackup-X.tgz] [--tag osbackup:X] [--docker "docker"]
#   build.sh base      make (or reuse) the cached base root filesystem only
#
# Environment: DOCKER (the docker command, may be e.g. "ssh root@host docker"; the context and
# the base go over its standard input), NODE_BIN (default: node on PATH), OSBACKUP_BUILD_CACHE
# (default ~/.cache/osbackup), DEBIAN_MIRROR (default: this machine's apt mirror).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
SUITE=bookworm
# what the worker spawns (gpg, zstd; gzip and openssl for imports), CA roots for S3 over TLS,
# tini as PID 1
PACKAGES=(gnupg zstd gzip openssl ca-certificates tini)
CACHE=${OSBACKUP_BUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/osbackup}
DOCKER=${DOCKER:-docker}
NODE_BIN=${NODE_BIN:-$(command -v node || true)}
TARBALL="" TAG="" MODE=image

log() { echo "[container $(date +%H:%M:%S)] $*" >&2; }
die() { echo "build.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case $1 in
    base) MODE=base ;;
    --tarball) TARBALL=$(realpath "${2:?--tarball needs a file}"); shift ;;
    --tag) TAG=${2:?--tag needs a name}; shift ;;
    --docker) DOCKER=${2:?--docker needs a command}; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

key=$(printf '%s ' "$SUITE" "${PACKAGES[@]}" | sha256sum | cut -c1-12)
ROOTFS=$CACHE/base-$SUITE-$key.tar
BASE=osbackup/base:$SUITE-$key

# The base root filesystem: debootstrap needs root and a Debian mirror; the tar is kept so a
# machine makes it once (its name changes with the package set).
make_rootfs() {
  [ -s "$ROOTFS" ] && { log "base root filesystem: $ROOTFS (cached)"; return 0; }
  [ "$(id -u)" = 0 ] || die "making the base root filesystem needs root (debootstrap); run once as root or set OSBACKUP_BUILD_CACHE to a cache that has $(basename "$ROOTFS")"
  command -v debootstrap >/dev/null || die "debootstrap is missing. Fix: apt-get install debootstrap"
  local mirror tmp
  mirror=${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
  mirror=${mirror:-http://deb.debian.org/debian}
  mkdir -p "$CACHE"
  tmp=$(mktemp -d /var/tmp/osbackup-base.XXXXXX)
  log "base root filesystem: debootstrap $SUITE from $mirror (once per machine; log $CACHE/debootstrap.log)"
  if ! debootstrap --variant=minbase --include="$(IFS=,; echo "${PACKAGES[*]}")" "$SUITE" "$tmp" "$mirror" >"$CACHE/debootstrap.log" 2>&1; then
    rm -rf "$tmp"; die "debootstrap failed (see $CACHE/debootstrap.log)"
  fi
  # no package lists or caches in the image
  rm -rf "$tmp"/var/lib/apt/lists/* "$tmp"/var/cache/apt/*.bin "$tmp"/var/cache/apt/archives/*.deb
  tar -C "$tmp" -c . >"$ROOTFS.tmp" && mv "$ROOTFS.tmp" "$ROOTFS"
  rm -rf "$tmp"
}

make_rootfs
[ "$MODE" = base ] && exit 0

[ -n "$NODE_BIN" ] && [ -x "$NODE_BIN" ] || die "no node binary (set NODE_BIN to a Node 20+ binary for linux-$(uname -m))"
node_version=$("$NODE_BIN" --version)
[ "${node_version#v}" != "$node_version" ] && [ "$(echo "${node_version#v}" | cut -d. -f1)" -ge 20 ] \
  || die "$NODE_BIN is Node $node_version; the worker needs 20 or newer (set NODE_BIN)"

ctx=$(mktemp -d /var/tmp/osbackup-image.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
if [ -z "$TARBALL" ]; then
  log "npm pack (builds the code and the workflow bundle)"
  (cd "$repo" && npm pack --silent --pack-destination "$ctx" >"$ctx/pack.log" 2>&1) || { cat "$ctx/pack.log" >&2; die "npm pack failed"; }
  TARBALL=$(ls "$ctx"/osbackup-*.tgz)
fi
version=$(tar -xzOf "$TARBALL" package/package.json | "$NODE_BIN" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).version))')
TAG=${TAG:-osbackup:$version}

log "installing $(basename "$TARBALL") as an operator would (npm install -g)"
npm install -g --prefix "$ctx/prefix" --prefer-offline --no-audit --no-fund "$TARBALL" >"$ctx/install.log" 2>&1 \
  || { cat "$ctx/install.log" >&2; die "npm install of $TARBALL failed"; }
mv "$ctx/prefix/lib/node_modules/osbackup" "$ctx/osbackup"
rm -rf "$ctx/prefix"
# the Temporal core bridge ships a native library per platform; the image needs its own only
bridge=$ctx/osbackup/node_modules/@temporalio/core-bridge/releases
case $(uname -m) in x86_64) keep=x86_64-unknown-linux-gnu ;; aarch64) keep=aarch64-unknown-linux-gnu ;; *) keep="" ;; esac
if [ -n "$keep" ] && [ -d "$bridge/$keep" ]; then
  find "$bridge" -mindepth 1 -maxdepth 1 -type d ! -name "$keep" -exec rm -rf {} +
fi
cp "$NODE_BIN" "$ctx/node"
cp "$here/Containerfile" "$ctx/Containerfile"

# shellcheck disable=SC2086 # DOCKER is a command line, e.g. "ssh root@host docker"
if ! $DOCKER image inspect "$BASE" >/dev/null 2>&1; then
  log "importing the base image $BASE"
  $DOCKER import - "$BASE" <"$ROOTFS" >/dev/null
fi
log "building $TAG (Node $node_version, base $BASE)"
# shellcheck disable=SC2086
tar -C "$ctx" -c --exclude=pack.log --exclude=install.log --exclude='osbackup-*.tgz' . \
  | $DOCKER build --network none --build-arg "BASE=$BASE" -f Containerfile -t "$TAG" - >"$CACHE/build.log" 2>&1 \
  || { tail -n 30 "$CACHE/build.log" >&2; die "docker build failed (log $CACHE/build.log)"; }
# shellcheck disable=SC2086
$DOCKER run --rm --network none "$TAG" --version >/dev/null || die "the image $TAG was built but 'osbackup --version' does not run in it"
log "built $TAG"
echo "$TAG"
