#!/usr/bin/env bash
# Installs every build, test and run dependency of Berth from Debian packages (and the
# npm packages of the third-party reflection client test). Idempotent: installs only what
# is missing, so both README commands can call it on every run.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev libgrpc-dev
  libabsl-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev googletest
  nlohmann-json3-dev libtomlplusplus-dev libcli11-dev libcap-dev libseccomp-dev libmnl-dev libnftables-dev
  libarchive-dev libcurl4-openssl-dev libssl-dev zlib1g-dev libmicrohttpd-dev libnghttp2-dev
  docker-registry skopeo umoci apache2-utils openssl
  busybox-static crun iproute2 procps util-linux nodejs npm
  groff-base man-db
  podman conmon containerd containernetworking-plugins
)

missing=()
for p in "${packages[@]}"; do
  # nodejs may come from another Debian-compatible source that already ships npm.
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's docker-registry package starts a registry on :5000 for every address. The tests
# start their own on 127.0.0.1 only; Berth needs no registry service on the node.
if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled docker-registry >/dev/null 2>&1; then
  echo "install-deps: disabling the docker-registry service the package enabled"
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi

# The reflection client test drives the agent with a real third-party gRPC client from npm.
here=$(cd "$(dirname "$0")/.." && pwd)
# The lockfile pins every version, so `npm ci` gives the same tree each time; it runs only
# when a package is missing or differs from package.json (`npm ls` checks, offline).
refl="$here/tests/reflection"
if [ -f "$refl/package.json" ] && { [ ! -d "$refl/node_modules/@grpc/grpc-js" ] ||
    ! (cd "$refl" && npm ls --depth=0 >/dev/null 2>&1); }; then
  if [ -f "$refl/package-lock.json" ]; then
    echo "install-deps: npm ci in tests/reflection"
    (cd "$refl" && npm ci --no-audit --no-fund --loglevel=error)
  else
    echo "install-deps: npm install in tests/reflection"
    (cd "$refl" && npm install --no-audit --no-fund --loglevel=error)
  fi
fi
