#!/usr/bin/env bash
# Issue 6.4: the coordinator under a big fleet. Starts `vlbench coordinator`
# on CPU $SERVER_CPU and the harness `coordinator-load` (crate
# vlbench-benchtools) on CPU $LOAD_CPU; the harness registers $NODES fake
# workers, submits a benchmark for all of them, and has each heartbeat every
# second and post one interval report per second (histograms of $QUERIES
# queries, as the worker's reporter sends them) for $DURATION seconds, then
# its final report. Like a real fleet, the nodes' heartbeats are spread over
# the interval (workers start at different times) and their reports come at
# each second's end, each node's clock off by a fixed amount in
# [0, $SKEW_MS) ms (SKEW_MS=1000 spreads them over the whole second). The
# reports are encoded once per node and variant, so that one harness CPU
# can post 200 reports together as 200 machines do. It prints the coordinator's CPU (% of one core) and RSS
# every $SAMPLE seconds and a summary. Goal: < 5 % of one core, flat RSS.
#
#   bench/coordinator-scale.sh                  # 200 nodes, 60 s
#   DURATION=600 bench/coordinator-scale.sh     # the full run (10 minutes)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

NODES=${NODES:-200}
QUERIES=${QUERIES:-10}
DURATION=${DURATION:-60}
SAMPLE=${SAMPLE:-5}
REQUESTS_PER_QUERY=${REQUESTS_PER_QUERY:-50}
SKEW_MS=${SKEW_MS:-20}

build_vlbench
# HARNESS=path uses an already built coordinator-load (like VLBENCH=path).
if [[ -z "${HARNESS:-}" ]]; then
    log "building coordinator-load (release)"
    (cd "$REPO_DIR" && cargo build --release -q -p vlbench-benchtools) || die "cargo build --release -p vlbench-benchtools failed"
    HARNESS="${CARGO_TARGET_DIR:-$REPO_DIR/target}/release/coordinator-load"
fi
[[ -x "$HARNESS" ]] || die "no harness at $HARNESS"

# 200 nodes x (heartbeat + report) connections, plus the API.
ulimit -n "$(ulimit -Hn)"
PORT=$(free_port)
bg_start nice -n "$NICE" taskset -c "$SERVER_CPU" "$VLBENCH" coordinator --listen "127.0.0.1:$PORT" \
    >"$BENCH_TMP/coordinator.out" 2>"$BENCH_TMP/coordinator.err"
COORD_PID=$BG_PID
wait_http "http://127.0.0.1:$PORT/health"

echo "machine: $(machine_line)"
echo "coordinator on CPU $SERVER_CPU, harness on CPU $LOAD_CPU: $NODES nodes, $QUERIES queries, ${DURATION}s"
nice -n "$NICE" taskset -c "$LOAD_CPU" timeout --signal=INT --kill-after=10 $((DURATION + 240)) \
    "$HARNESS" --coordinator "http://127.0.0.1:$PORT" --pid "$COORD_PID" --nodes "$NODES" \
    --queries "$QUERIES" --duration "$DURATION" --sample-every "$SAMPLE" \
    --requests-per-query "$REQUESTS_PER_QUERY" --skew-ms "$SKEW_MS" \
    || { tail -20 "$BENCH_TMP/coordinator.err" >&2; die "coordinator-load failed"; }
if grep -qi "panic\|error" "$BENCH_TMP/coordinator.err"; then
    echo "coordinator log (errors):" >&2
    grep -i "panic\|error" "$BENCH_TMP/coordinator.err" | head -5 >&2
fi
