#!/usr/bin/env bash
# Issue 6.1: vlbench's HTTP client against two peers, wrk and oha, all three
# against the same nginx (Debian's, one worker process, answering every path
# with one 200-byte JSON line as `application/stream+json`). nginx runs on CPU
# $SERVER_CPU, the load generator on CPU $LOAD_CPU; each tool gets one thread
# (wrk -t1, vlbench --threads 1, oha pinned to one CPU). For concurrency 1, 16
# and 256 prints requests/s and the load generator's CPU seconds per 100k
# requests, each the median of $RUNS runs of $DURATION.
#
# vlbench runs with its normal configuration: histograms, body and row
# counting, status/error classes; a `* | limit 1` query template (nginx
# answers /select/logsql/query?query=... like any other path).
#
#   bench/compare-throughput.sh
#   CONCURRENCY="1 16" RUNS=5 DURATION=10 bench/compare-throughput.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CONCURRENCY=${CONCURRENCY:-1 16 256}
DURATION=${DURATION:-5}          # seconds per run
TOOLS=${TOOLS:-vlbench wrk oha}

apt_need nginx nginx
apt_need wrk wrk
ensure_oha
build_vlbench

# --- nginx in a temp dir, one worker, on a free port -------------------------
PORT=$(free_port)
NG="$BENCH_TMP/nginx"
mkdir -p "$NG/logs"
# 199 bytes of JSON + "\n" = 200 bytes.
prefix='{"_time":"2025-11-25T06:33:24.120Z","_stream_id":"0000000000000000e934a84adb05276890d7f7bfcadabe92","level":"info","_msg":"'
pad=$((199 - ${#prefix} - 2))
LINE="$prefix$(printf 'x%.0s' $(seq 1 "$pad"))\"}"
cat >"$NG/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $NG/nginx.pid;
error_log $NG/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $NG/client_body;
    proxy_temp_path $NG/proxy;
    fastcgi_temp_path $NG/fastcgi;
    uwsgi_temp_path $NG/uwsgi;
    scgi_temp_path $NG/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$PORT backlog=4096;
        location / {
            default_type application/stream+json;
            return 200 '$LINE\n';
        }
    }
}
CONF
bg_start nice -n "$NICE" taskset -c "$SERVER_CPU" nginx -p "$NG" -c "$NG/nginx.conf" 2>"$NG/logs/stderr"
BASE="http://127.0.0.1:$PORT"
wait_http "$BASE/"
size=$(curl -fsS "$BASE/select/logsql/query?query=x" | wc -c)
[[ "$size" == 200 ]] || die "nginx body is $size bytes, expected 200"
curl -fsS "$BASE/" | jq -e . >/dev/null || die "nginx body is not JSON"
URL="$BASE/select/logsql/query?query=%2A+%7C+limit+1"

# --- one run of each tool: sets RPS and REQS ----------------------------------
run_vlbench() {
    local c=$1
    bench_yaml_closed "$BENCH_TMP/bench.yaml" "$BASE" "$c" "${DURATION}s"
    rm -rf "$BENCH_TMP/out"
    timed_load $((DURATION + 60)) "$VLBENCH" run -q --threads 1 -o "$BENCH_TMP/out" "$BENCH_TMP/bench.yaml"
    local rep="$BENCH_TMP/out/report.json"
    [[ "$(jqr "$rep" .metrics.failed_queries)" == 0 ]] || die "vlbench: failed requests (see $rep)"
    REQS=$(jqr "$rep" .metrics.total_queries)
    RPS=$(jqr "$rep" .metrics.qps)
}

run_wrk() {
    local c=$1
    timed_load $((DURATION + 30)) wrk -t1 -c"$c" -d"${DURATION}s" "$URL"
    ! grep -q "Non-2xx\|Socket errors" "$BENCH_TMP/load.out" || { cat "$BENCH_TMP/load.out" >&2; die "wrk: errors"; }
    REQS=$(awk '/requests in/ {print $1}' "$BENCH_TMP/load.out")
    RPS=$(awk '/Requests\/sec/ {print $2}' "$BENCH_TMP/load.out")
}

run_oha() {
    local c=$1
    # oha's default runtime uses one thread per CPU it may run on: one here.
    timed_load $((DURATION + 30)) oha --no-tui --output-format json -z "${DURATION}s" -c "$c" "$URL"
    local out="$BENCH_TMP/load.out"
    [[ "$(jq -r '.statusCodeDistribution | keys | join(",")' "$out")" == 200 ]] \
        || { cat "$out" >&2; die "oha: non-200 answers"; }
    RPS=$(jq -r .summary.requestsPerSec "$out")
    REQS=$(jq -r '.statusCodeDistribution["200"]' "$out")
}

echo "machine: $(machine_line)"
echo "nginx $(nginx -v 2>&1 | sed 's/.*\///') on CPU $SERVER_CPU, load on CPU $LOAD_CPU, ${DURATION}s per run, median of $RUNS"
printf '%-8s %6s %12s %18s   %s\n' tool conns 'req/s' 'CPU s/100k req' 'runs (req/s; CPU s/100k)'
# Runs are interleaved (run 1 of every tool, then run 2, ...) so that the
# machine's noise falls on all tools alike.
for c in $CONCURRENCY; do
    declare -A RPS_OF=() CPU_OF=() DETAIL_OF=()
    for _ in $(seq 1 "$RUNS"); do
        for tool in $TOOLS; do
            [[ "$tool" == oha && "$HAVE_OHA" != 1 ]] && continue
            "run_$tool" "$c"
            cpu=$(per100k "$LOAD_CPU_SECS" "$REQS")
            RPS_OF[$tool]+="$RPS " CPU_OF[$tool]+="$cpu "
            DETAIL_OF[$tool]+=$(printf '%.0f;%s ' "$RPS" "$cpu")
        done
    done
    for tool in $TOOLS; do
        if [[ "$tool" == oha && "$HAVE_OHA" != 1 ]]; then
            printf '%-8s %6s %12s %18s\n' oha "$c" '-' 'oha not installed'
            continue
        fi
        # shellcheck disable=SC2086 # word splitting of the number lists is wanted
        printf '%-8s %6s %12.0f %18s   %s\n' "$tool" "$c" "$(median ${RPS_OF[$tool]})" \
            "$(median ${CPU_OF[$tool]})" "${DETAIL_OF[$tool]}"
    done
    # Paired view: run k of vlbench against run k of each peer (they ran
    # back to back, so they share the host's noise of that moment).
    for peer in $TOOLS; do
        [[ "$peer" == vlbench || -z "${CPU_OF[$peer]:-}" || -z "${CPU_OF[vlbench]:-}" ]] && continue
        # shellcheck disable=SC2086 # word splitting of the number lists is wanted
        pairs=$(paste -d' ' <(printf '%s\n' ${CPU_OF[vlbench]}) <(printf '%s\n' ${CPU_OF[$peer]}))
        ahead=$(awk '$1 < $2 {k++} END {print k + 0}' <<<"$pairs")
        # shellcheck disable=SC2046 # one ratio per pair
        ratio=$(median $(awk '{printf "%.4f\n", $1 / $2}' <<<"$pairs"))
        printf '  c=%s: vlbench used less CPU per request than %s in %s of %s paired runs; median ratio %.3f\n' \
            "$c" "$peer" "$ahead" "$RUNS" "$ratio"
    done
done
