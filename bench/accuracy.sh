#!/usr/bin/env bash
# Issue 6.3: how exact vlbench's open model is, against
# `vlbench target --latency 10ms` (target on CPU $SERVER_CPU, one thread;
# vlbench on CPU $LOAD_CPU, --threads 1).
#
# 1. 1,000 req/s for $DURATION: p50 latency minus the 10 ms the target waits
#    (goal < 0.2 ms) and the achieved rate vs the asked one (goal within
#    0.5 %). The target's own delay is not exactly 10 ms (tokio's timer has
#    a 1 ms tick), so the script also measures the same target with a peer,
#    wrk (-c10: ~1,000 req/s, closed), in the same run, and reports
#    vlbench's p50 minus wrk's p50 as vlbench's own overhead.
# 2. 10,000 req/s: the scheduling lag p99 vlbench reports itself
#    (report.json schedule.lag_p99_ms, goal < 1 ms).
# Each figure is the median of $RUNS runs.
#
#   bench/accuracy.sh
#   DURATION=30s RUNS=5 bench/accuracy.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-10s}
LOW_QPS=${LOW_QPS:-1000}
HIGH_QPS=${HIGH_QPS:-10000}

apt_need wrk wrk
build_vlbench
start_target --threads 1 --latency 10ms
URL="$TARGET_URL/select/logsql/query?query=%2A+%7C+limit+1"
secs=${DURATION%s}

open_run() {   # open_run QPS -> report at $BENCH_TMP/out/report.json
    bench_yaml_open "$BENCH_TMP/bench.yaml" "$TARGET_URL" "$1" "$DURATION" 1000
    rm -rf "$BENCH_TMP/out"
    timed_load $((secs + 60)) "$VLBENCH" run -q --threads 1 -o "$BENCH_TMP/out" "$BENCH_TMP/bench.yaml"
    REP="$BENCH_TMP/out/report.json"
    [[ "$(jqr "$REP" .metrics.failed_queries)" == 0 ]] || die "failed requests at $1 req/s (see $REP)"
}

wrk_p50_ms() {  # wrk's --latency p50, in ms
    timed_load $((secs + 30)) wrk -t1 -c10 -d"$DURATION" --latency "$URL"
    awk '$1 == "50%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) sub(/ms/,"",v); else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$BENCH_TMP/load.out"
}

echo "machine: $(machine_line)"
over=() rate=() sent=() wrk50=() vl50=()
for i in $(seq 1 "$RUNS"); do
    open_run "$LOW_QPS"
    p50=$(jqr "$REP" .metrics.p50_response_time)
    qps=$(jqr "$REP" .metrics.qps)
    w=$(wrk_p50_ms)
    vl50+=("$p50") wrk50+=("$w")
    over+=("$(awk -v a="$p50" -v b="$w" 'BEGIN {printf "%.3f", a-b}')")
    rate+=("$(awk -v q="$qps" -v t="$LOW_QPS" 'BEGIN {printf "%.3f", 100*(q-t)/t}')")
    sent+=("$(jqr "$REP" '.schedule.achieved * 100 - 100 | . * 1000 | round / 1000')")
    printf 'run %d at %s req/s: vlbench p50 %.3f ms (p50-10 = %.3f), wrk p50 %s ms, qps %.2f, sent/planned %s, lag p99 %s ms\n' \
        "$i" "$LOW_QPS" "$p50" "$(awk -v a="$p50" 'BEGIN {print a-10}')" "$w" "$qps" \
        "$(jqr "$REP" .schedule.achieved)" "$(jqr "$REP" .schedule.lag_p99_ms)"
done
lag=() hq=()
for i in $(seq 1 "$RUNS"); do
    open_run "$HIGH_QPS"
    lag+=("$(jqr "$REP" .schedule.lag_p99_ms)")
    hq+=("$(jqr "$REP" .metrics.qps)")
    printf 'run %d at %s req/s: lag p50 %s ms, p99 %s ms, max %s ms, qps %.1f, p50 latency %s ms, CPU %s s\n' \
        "$i" "$HIGH_QPS" "$(jqr "$REP" .schedule.lag_p50_ms)" "$(jqr "$REP" .schedule.lag_p99_ms)" \
        "$(jqr "$REP" .schedule.lag_max_ms)" "$(jqr "$REP" .metrics.qps)" \
        "$(jqr "$REP" .metrics.p50_response_time)" "$LOAD_CPU_SECS"
done
echo
echo "medians of $RUNS runs of $DURATION:"
printf '  %s req/s: vlbench p50 - 10 ms = %.3f ms; wrk p50 - 10 ms = %.3f ms; vlbench p50 - wrk p50 = %s ms (goal < 0.2)\n' \
    "$LOW_QPS" "$(awk -v a="$(median "${vl50[@]}")" 'BEGIN {print a-10}')" \
    "$(awk -v a="$(median "${wrk50[@]}")" 'BEGIN {print a-10}')" "$(median "${over[@]}")"
printf '  %s req/s: achieved rate (qps) %s %% off target, sent/planned %s %% off (goal within 0.5 %%)\n' \
    "$LOW_QPS" "$(median "${rate[@]}")" "$(median "${sent[@]}")"
printf '  %s req/s: schedule lag p99 %s ms (goal < 1 ms), qps %s\n' "$HIGH_QPS" "$(median "${lag[@]}")" "$(median "${hq[@]}")"
