#!/usr/bin/env bash
# Throughput of the simulated VictoriaLogs (`vlbench target`), to show it is
# not the bottleneck of a benchmark: the target runs pinned to one core
# (one worker thread), the load tool pinned to another.
#
#   bench/target-throughput.sh            # defaults below
#   DURATION=30s CONNS=128 bench/target-throughput.sh
#   VLBENCH=/path/to/vlbench bench/target-throughput.sh   # skip the build
#
# Needs Linux with taskset and two CPUs. Installs Debian's `wrk` with
# apt-get when missing; uses `oha` instead when OHA=1 and it is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-19428}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
ROWS=${ROWS:-100000}
TARGET_CPU=${TARGET_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
OHA=${OHA:-0}

if [[ -n "${VLBENCH:-}" ]]; then
    BIN=$VLBENCH
else
    cargo build --release -p vlbench
    BIN="${CARGO_TARGET_DIR:-target}/release/vlbench"
fi

if [[ "$OHA" == 1 ]] && ! command -v oha >/dev/null; then
    echo "OHA=1 but oha is not installed (cargo install oha); using wrk" >&2
    OHA=0
fi
if [[ "$OHA" != 1 ]] && ! command -v wrk >/dev/null; then
    echo "installing wrk with apt-get" >&2
    SUDO=""
    [[ "$(id -u)" == 0 ]] || SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk >/dev/null
fi

taskset -c "$TARGET_CPU" "$BIN" target --listen "127.0.0.1:$PORT" --rows "$ROWS" --threads 1 &
TARGET_PID=$!
trap 'kill "$TARGET_PID" 2>/dev/null; wait "$TARGET_PID" 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null

BASE="http://127.0.0.1:$PORT/select/logsql"
run() {
    local name=$1 url=$2 out rps
    curl -fsS "$url" >/dev/null   # the query must succeed (and get cached)
    if [[ "$OHA" == 1 ]]; then
        out=$(taskset -c "$LOAD_CPU" oha --no-tui -z "$DURATION" -c "$CONNS" "$url")
        rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    else
        out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$url")
        rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
        if grep -q "Non-2xx" <<<"$out"; then
            echo "$out" >&2
            echo "error: non-2xx responses for $name" >&2
            exit 1
        fi
    fi
    echo "$out" | sed 's/^/    /'
    printf '%-45s %12s req/s\n' "$name" "$rps"
}

echo "vlbench target on CPU $TARGET_CPU ($ROWS rows), load on CPU $LOAD_CPU, $CONNS connections, $DURATION"
run '* | limit 1 (query)' "$BASE/query?query=*+%7C+limit+1"
run '_time:1h error | stats by (namespace) count()' \
    "$BASE/stats_query?query=_time%3A1h+error+%7C+stats+by+(namespace)+count()+hits"
