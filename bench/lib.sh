# Helpers shared by the bench/ scripts. Source it after `set -euo pipefail`:
#
#   source "$(dirname "$0")/lib.sh"
#
# Conventions: every background process is started with `bg_start` and killed
# by the EXIT trap installed here; every load run is bounded by `timeout`;
# traffic goes to 127.0.0.1 only; the server under test runs on $SERVER_CPU
# (default 0), the load generator on $LOAD_CPU (default 1).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
RUNS=${RUNS:-3}
# Scheduling priority of the server and the load generator (nice value;
# e.g. NICE=-10 as root on a machine busy with other work). 0 = unchanged.
NICE=${NICE:-0}

BENCH_PIDS=()
BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/vlbench-bench.XXXXXX")

bench_cleanup() {
    local pid
    for pid in "${BENCH_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${BENCH_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

die() {
    echo "error: $*" >&2
    exit 1
}

log() {
    echo "[$(date +%H:%M:%S)] $*" >&2
}

# Starts "$@" in the background and remembers its pid for the EXIT trap.
# The pid is left in BG_PID.
bg_start() {
    "$@" &
    BG_PID=$!
    BENCH_PIDS+=("$BG_PID")
}

# Stops one process started with bg_start (SIGTERM, then waits).
bg_stop() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# Builds the release binary and sets VLBENCH to its path. With VLBENCH set
# to an executable already (e.g. a copy kept while the tree does not
# build), uses that one and builds nothing.
build_vlbench() {
    if [[ -n "${VLBENCH:-}" ]]; then
        [[ -x "$VLBENCH" ]] || die "VLBENCH=$VLBENCH is not an executable"
        log "using $VLBENCH (not rebuilt)"
        return 0
    fi
    log "building vlbench (release)"
    (cd "$REPO_DIR" && cargo build --release -q -p vlbench) || die "cargo build --release -p vlbench failed"
    VLBENCH="${CARGO_TARGET_DIR:-$REPO_DIR/target}/release/vlbench"
    [[ -x "$VLBENCH" ]] || die "no binary at $VLBENCH"
}

# Installs Debian packages when a command is missing: apt_need CMD PKG.
apt_need() {
    command -v "$1" >/dev/null && return 0
    local sudo=""
    [[ "$(id -u)" == 0 ]] || sudo="sudo"
    log "installing $2 with apt-get"
    $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq "$2" >/dev/null \
        || die "cannot install $2 (apt-get install -y $2)"
    command -v "$1" >/dev/null || die "$2 installed but $1 not found"
}

# Makes sure `oha` exists, installing it from crates.io when absent. Sets
# HAVE_OHA=1 or 0 (with a message) and never fails the script.
ensure_oha() {
    HAVE_OHA=0
    export PATH="$HOME/.cargo/bin:$PATH"
    if ! command -v oha >/dev/null; then
        log "installing oha with cargo install oha --locked (a few minutes)"
        cargo install oha --locked >/dev/null 2>&1 || {
            log "cargo install oha failed: oha is left out of the comparison"
            return 0
        }
    fi
    command -v oha >/dev/null && HAVE_OHA=1
    return 0
}

# A TCP port nobody listens on right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits up to 10 s for URL to answer 2xx.
wait_http() {
    local _
    for _ in $(seq 1 100); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    die "$1 did not answer within 10 s"
}

# Median of the numbers given as arguments.
median() {
    printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR==0) exit 1; if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

# Runs "$@" pinned to $LOAD_CPU under /usr/bin/time (bounded by
# `timeout`), keeping stdout in $BENCH_TMP/load.out. Sets LOAD_CPU_SECS
# (user+system of the load generator and its children) and LOAD_MAXRSS_KB.
# Usage: timed_load LIMIT_SECS cmd args...
timed_load() {
    local limit=$1
    shift
    local tf="$BENCH_TMP/time.out"
    nice -n "$NICE" taskset -c "$LOAD_CPU" /usr/bin/time -f '%U %S %M' -o "$tf" \
        timeout --signal=INT --kill-after=10 "$limit" "$@" >"$BENCH_TMP/load.out" 2>"$BENCH_TMP/load.err" \
        || { cat "$BENCH_TMP/load.err" >&2; die "load run failed: $*"; }
    read -r u s m < <(tail -n1 "$tf")
    LOAD_CPU_SECS=$(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.3f", u+s}')
    LOAD_MAXRSS_KB=$m
}

# CPU seconds per 100k requests: per100k CPU_SECS REQUESTS.
per100k() {
    awk -v c="$1" -v n="$2" 'BEGIN {if (n>0) printf "%.3f", c*100000/n; else print "nan"}'
}

# Writes a closed-model bench file: bench_yaml_closed FILE URL USERS DURATION [TEMPLATE]
bench_yaml_closed() {
    cat >"$1" <<EOF
apiVersion: benchmark.victorialogs.io/v1
kind: BenchmarkConfig
metadata:
  name: bench-closed
spec:
  target:
    url: $2
  workload:
    total_concurrent_users: $3
    duration: $4
  queries:
    - name: limit1
      template: '${5:-* | limit 1}'
  reporting:
    formats: [json]
EOF
}

# Writes an open-model bench file: bench_yaml_open FILE URL QPS DURATION MAX_IN_FLIGHT
bench_yaml_open() {
    cat >"$1" <<EOF
apiVersion: benchmark.victorialogs.io/v1
kind: BenchmarkConfig
metadata:
  name: bench-open
spec:
  target:
    url: $2
  workload:
    model: open
    target_qps: $3
    duration: $4
    max_in_flight: $5
  queries:
    - name: limit1
      template: '* | limit 1'
  reporting:
    formats: [json]
EOF
}

# Starts `vlbench target` on $SERVER_CPU at a free port; extra flags are
# passed on. Sets TARGET_URL and TARGET_PID.
start_target() {
    local port
    port=$(free_port)
    bg_start nice -n "$NICE" taskset -c "$SERVER_CPU" "$VLBENCH" target --listen "127.0.0.1:$port" "$@" \
        2>"$BENCH_TMP/target.err"
    TARGET_PID=$BG_PID
    TARGET_URL="http://127.0.0.1:$port"
    wait_http "$TARGET_URL/health"
}

# Reads a jq expression from a report: jqr FILE EXPR
jqr() {
    jq -r "$2" "$1"
}

# One line describing the machine, for RESULTS.md.
machine_line() {
    local model
    model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
    echo "$(nproc) CPUs, ${model:-unknown CPU}, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
}
