#!/usr/bin/env bash
# Issue 2 point 7: throughput of `vlbench run` itself against a local
# `vlbench target`: a generated closed-model bench file (USERS users, query
# `* | limit 1`), the target pinned to CPU $SERVER_CPU (one thread), vlbench
# pinned to CPU $LOAD_CPU. Prints requests/s and the CPU seconds vlbench
# spent per 100k requests, median of $RUNS runs.
#
#   bench/run-throughput.sh                       # 64 users, 5 s, 3 runs
#   USERS=16 DURATION=10s THREADS=1 RUNS=5 bench/run-throughput.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"

USERS=${USERS:-64}
DURATION=${DURATION:-5s}
THREADS=${THREADS:-1}

build_vlbench
start_target --threads 1
bench_yaml_closed "$BENCH_TMP/bench.yaml" "$TARGET_URL" "$USERS" "$DURATION"

rps_all=() cpu_all=()
for i in $(seq 1 "$RUNS"); do
    rm -rf "$BENCH_TMP/out"
    timed_load 120 "$VLBENCH" run -q --threads "$THREADS" -o "$BENCH_TMP/out" "$BENCH_TMP/bench.yaml"
    rep="$BENCH_TMP/out/report.json"
    total=$(jqr "$rep" .metrics.total_queries)
    failed=$(jqr "$rep" .metrics.failed_queries)
    rps=$(jqr "$rep" .metrics.qps)
    [[ "$failed" == 0 ]] || die "run $i: $failed failed requests"
    cpu100k=$(per100k "$LOAD_CPU_SECS" "$total")
    printf 'run %d: %d requests, %.0f req/s, vlbench CPU %s s, %s CPU s per 100k requests\n' \
        "$i" "$total" "$rps" "$LOAD_CPU_SECS" "$cpu100k"
    rps_all+=("$rps") cpu_all+=("$cpu100k")
done
printf 'vlbench run, %s users, --threads %s, %s x %s: median %.0f req/s, median %s CPU s per 100k requests\n' \
    "$USERS" "$THREADS" "$RUNS" "$DURATION" "$(median "${rps_all[@]}")" "$(median "${cpu_all[@]}")"
