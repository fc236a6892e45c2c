#!/usr/bin/env bash
# arus-proxy benchmark: installs what it needs, builds the pass-through filters, and runs
# bench/bench.py (direct, arus splice, arus filter forwarding and copying, HAProxy x2,
# nginx stream).
#   bench/run.sh            full run (~20 min): docs/benchmarks.md + docs/benchmarks.svg
#   bench/run.sh --quick    smoke run (< 2 min): build/bench/quick.md + quick.svg
# Other options pass through to bench/bench.py (--help). Needs build/arus-proxy (make all).
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the source tree

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cd "$repo"

need_pkgs=()
command -v haproxy >/dev/null || need_pkgs+=(haproxy)
command -v nginx >/dev/null || need_pkgs+=(nginx)
ls /usr/lib/nginx/modules/ngx_stream_module.so >/dev/null 2>&1 || need_pkgs+=(libnginx-mod-stream)
command -v wrk >/dev/null || need_pkgs+=(wrk)
command -v iperf3 >/dev/null || need_pkgs+=(iperf3)
command -v curl >/dev/null || need_pkgs+=(curl)
command -v taskset >/dev/null || need_pkgs+=(util-linux)
command -v cc >/dev/null || need_pkgs+=(gcc)
if ((${#need_pkgs[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "bench: installing ${need_pkgs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  else
    echo "bench: missing ${need_pkgs[*]}; install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${need_pkgs[*]}" >&2
    exit 1
  fi
fi
# The packages enable system services; the benchmark starts its own instances only.

arus_bin=${ARUS_BIN:-$repo/build/arus-proxy}
if [[ ! -x $arus_bin ]]; then
  echo "bench: $arus_bin not found: run 'make all' (or 'make bench')" >&2
  exit 1
fi
if (($(nproc) < 2)); then
  echo "bench: warning: one CPU only; proxy and load generators share it" >&2
fi

quick=0
args=()
for arg in "$@"; do
  [[ $arg == --quick ]] && quick=1
  args+=("$arg")
done
mkdir -p build/bench
if ((quick)); then
  out=(--md build/bench/quick.md --svg build/bench/quick.svg --json build/bench/quick.json)
else
  out=(--md docs/benchmarks.md --svg docs/benchmarks.svg --json build/bench/results.json)
fi

scratch=$(mktemp -d /tmp/arus-bench.XXXXXX)
plugin_dir=$scratch/plugins
mkdir -p "$plugin_dir"
export ARUS_BENCH_PIDS=$scratch/pids
py_pid=
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if [[ -n $py_pid ]] && kill -0 "$py_pid" 2>/dev/null; then
    kill -TERM "$py_pid" 2>/dev/null || true
    wait "$py_pid" 2>/dev/null || true
  fi
  # Process groups bench.py started and could not end itself (it was killed): by PID.
  if [[ -s $ARUS_BENCH_PIDS ]]; then
    while read -r pid; do
      kill -KILL -- "-$pid" 2>/dev/null || true
    done <"$ARUS_BENCH_PIDS"
  fi
  if [[ ${rc:-1} -eq 0 ]]; then
    rm -rf "$scratch"
  else
    echo "bench: failed; logs kept in $scratch/work" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# passthrough.so forwards (ARUS_FILTER_FORWARD), passthrough_copy.so copies to `out`.
for plugin in passthrough passthrough_copy; do
  cc -std=c99 -Wall -Wextra -O2 -fPIC -shared -Iinclude "bench/$plugin.c" \
    -o "$plugin_dir/$plugin.so"
  chmod 755 "$plugin_dir/$plugin.so"
done
chmod 755 "$plugin_dir"

# Later options win, so a caller's --md/--svg/--json override the defaults.
python3 "$here/bench.py" --arus-bin "$arus_bin" --plugin-dir "$plugin_dir" \
  --work "$scratch/work" "${out[@]}" "${args[@]}" &
py_pid=$!
rc=0
wait "$py_pid" || rc=$?
rc=${rc:-0}
py_pid=
exit "$rc"
