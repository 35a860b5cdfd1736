#!/usr/bin/env bash
# Issue 6.2: peak resident memory of one `vlbench run` with many closed-model
# users against `vlbench target --latency 100ms`. The peak is VmHWM from
# /proc/PID/status, read every 100 ms while vlbench runs (the last reading
# before exit). Goal: under 200 MB at 10,000 users.
#
#   bench/memory.sh                         # 1000 and 10000 users, 10 s each
#   USERS_LIST="10000" DURATION=30s bench/memory.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"

USERS_LIST=${USERS_LIST:-1000 10000}
DURATION=${DURATION:-10s}
LIMIT_SECS=${LIMIT_SECS:-120}
THREADS=${THREADS:-1}

# Each user holds one connection in vlbench and one in the target (separate
# processes, so each needs max(users) + some fds).
max_users=$(printf '%s\n' $USERS_LIST | sort -n | tail -1)
want=$((max_users + 1000))
ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
(( $(ulimit -n) >= want )) || die "ulimit -n is $(ulimit -n), need $want (raise the hard limit)"

build_vlbench
start_target --threads 1 --latency 100ms

echo "machine: $(machine_line)"
printf '%8s %12s %10s %10s %10s\n' users 'peak RSS MB' 'req/s' requests failed
for users in $USERS_LIST; do
    bench_yaml_closed "$BENCH_TMP/bench.yaml" "$TARGET_URL" "$users" "$DURATION"
    rm -rf "$BENCH_TMP/out"
    bg_start nice -n "$NICE" taskset -c "$LOAD_CPU" "$VLBENCH" run -q --threads "$THREADS" \
        -o "$BENCH_TMP/out" "$BENCH_TMP/bench.yaml" >"$BENCH_TMP/run.out" 2>&1
    pid=$BG_PID hwm=0 deadline=$((SECONDS + LIMIT_SECS))
    while kill -0 "$pid" 2>/dev/null; do
        v=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        [[ -n "$v" ]] && hwm=$v
        if (( SECONDS > deadline )); then
            kill -INT "$pid"
            die "vlbench run with $users users exceeded ${LIMIT_SECS}s"
        fi
        sleep 0.1
    done
    wait "$pid" || { cat "$BENCH_TMP/run.out" >&2; die "vlbench run with $users users failed"; }
    rep="$BENCH_TMP/out/report.json"
    printf '%8s %12.1f %10.0f %10s %10s\n' "$users" "$(awk -v k="$hwm" 'BEGIN {print k/1024}')" \
        "$(jqr "$rep" .metrics.qps)" "$(jqr "$rep" .metrics.total_queries)" "$(jqr "$rep" .metrics.failed_queries)"
done
