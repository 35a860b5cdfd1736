#!/usr/bin/env bash
# Accuracy of the simulated VictoriaLogs' added latency (issue 6 point 3
# measures vlbench's p50 against a "fixed 10 ms target"): the target runs
# with `--latency 10ms` pinned to one core; wrk (closed loop, CONNS
# connections, so about CONNS x 100 req/s: 1,000 req/s by default) on the
# other core reports the latency distribution. Prints served - configured
# for wrk's percentiles and for the target's own mean (from /metrics).
#
#   bench/target-latency.sh                       # builds vlbench --release
#   VLBENCH=/path/to/vlbench RUNS=3 bench/target-latency.sh
#   NICE=-10 bench/target-latency.sh   # as root on a machine busy with other work
#
# Needs Linux with taskset and two CPUs. Installs Debian's `wrk` with
# apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-19429}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-10}
LATENCY_MS=${LATENCY_MS:-10}
RUNS=${RUNS:-1}
TARGET_CPU=${TARGET_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
NICE=${NICE:-0}

if [[ -z "${VLBENCH:-}" ]]; then
    cargo build --release -p vlbench
    VLBENCH="${CARGO_TARGET_DIR:-target}/release/vlbench"
fi
if ! command -v wrk >/dev/null; then
    echo "installing wrk with apt-get" >&2
    SUDO=""
    [[ "$(id -u)" == 0 ]] || SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk >/dev/null
fi

nice -n "$NICE" taskset -c "$TARGET_CPU" "$VLBENCH" target --listen "127.0.0.1:$PORT" --rows 100000 \
    --threads 1 --latency "${LATENCY_MS}ms" &
TARGET_PID=$!
trap 'kill "$TARGET_PID" 2>/dev/null; wait "$TARGET_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null

URL="http://127.0.0.1:$PORT/select/logsql/query?query=*+%7C+limit+1"
curl -fsS "$URL" >/dev/null

# The target's own served time for /query: sum and count on /metrics.
server_sum_count() {
    curl -fsS "http://127.0.0.1:$PORT/metrics" | awk '
        /^vl_http_request_duration_seconds_sum\{path="\/select\/logsql\/query"\}/ {s=$2}
        /^vl_http_request_duration_seconds_count\{path="\/select\/logsql\/query"\}/ {c=$2}
        END {printf "%s %s\n", s, c}'
}

echo "vlbench target --latency ${LATENCY_MS}ms on CPU $TARGET_CPU; wrk -c$CONNS on CPU $LOAD_CPU; $DURATION x $RUNS; nice $NICE"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-4s %10s %10s %10s %10s %10s %12s\n' run req/s p50-cfg p75-cfg p90-cfg p99-cfg server_mean-cfg
for run in $(seq 1 "$RUNS"); do
    read -r sum0 count0 < <(server_sum_count)
    out=$(nice -n "$NICE" taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$URL")
    read -r sum1 count1 < <(server_sum_count)
    if grep -q "Non-2xx" <<<"$out"; then
        echo "$out" >&2
        echo "error: non-2xx responses" >&2
        exit 1
    fi
    # wrk prints e.g. "     50%   10.06ms"; convert to microseconds minus the configured latency.
    awk -v run="$run" -v cfg_us="$((LATENCY_MS * 1000))" \
        -v s0="$sum0" -v s1="$sum1" -v c0="$count0" -v c1="$count1" '
        function us(v) {
            if (v ~ /us$/) return v + 0;
            if (v ~ /ms$/) return v * 1000;
            if (v ~ /s$/) return v * 1000000;
            return v + 0;
        }
        /Requests\/sec/ {rps = $2}
        /^ +(50|75|90|99)% / {p[$1] = us($2) - cfg_us}
        END {
            mean = (c1 > c0) ? (s1 - s0) / (c1 - c0) * 1e6 - cfg_us : 0;
            printf "%-4s %10s %8.0fus %8.0fus %8.0fus %8.0fus %10.0fus\n",
                run, rps, p["50%"], p["75%"], p["90%"], p["99%"], mean;
        }' <<<"$out"
done
