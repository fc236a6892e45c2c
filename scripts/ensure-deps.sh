#!/bin/sh
# Checks that the build and test dependencies are present; installs the missing Debian
# packages when run as root, otherwise prints the exact command and fails.
# Usage: scripts/ensure-deps.sh [build|test|run]
#   test: also what the tests use; run: also the clients `make run` suggests (nc, curl)
set -eu

want=${1:-build}
missing=""

need() {  # need PACKAGE TEST-COMMAND...
  pkg=$1
  shift
  if ! "$@" >/dev/null 2>&1; then missing="$missing $pkg"; fi
}

have_file() { [ -e "$1" ]; }

need make command -v make
need g++ command -v g++
need libinih-dev have_file /usr/include/ini.h
if [ "$want" = test ]; then
  need libgtest-dev have_file /usr/include/gtest/gtest.h
  need python3 command -v python3
  need gcc command -v cc  # the plugin tests compile test filters
  need python3-yaml python3 -c 'import yaml'  # contrib/kubernetes manifests
  # Real peers of the end-to-end tests (PROXY protocol, health checks, backend caps).
  need haproxy have_file /usr/sbin/haproxy
  need nginx have_file /usr/sbin/nginx
  need libnginx-mod-stream have_file /usr/lib/nginx/modules/ngx_stream_module.so
  need redis-server have_file /usr/bin/redis-server
  need postgresql sh -c 'ls /usr/lib/postgresql/*/bin/postgres'
fi
if [ "$want" = run ]; then
  need netcat-openbsd command -v nc
  need curl command -v curl
fi

[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-deps: installing:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Wait for apt's lock instead of failing when another apt-get (a parallel make, the
  # machine's own updates) holds it.
  apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
  # shellcheck disable=SC2086
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $missing >&2
  exit 0
fi

echo "ensure-deps: missing packages:$missing" >&2
echo "ensure-deps: install them with: sudo apt-get install -y$missing" >&2
exit 1
