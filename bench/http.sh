#!/usr/bin/env bash
# HTTP benchmark (issue 2): GET /health versus an authenticated GET /inboxes/{id}, with rate
# limiting disabled and enabled (a limit too high to trip), 64 connections, against a release
# build, plus the idle RSS. Prints req/s, p50/p99 latency and the ratios, as medians of
# ROUNDS runs. Needs wrk (Debian: apt-get install wrk) and curl.
#
#   bench/http.sh                 # 3 rounds of 10 s per case
#   ROUNDS=5 DURATION=20s bench/http.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
# Below Linux's ephemeral port range, where a load run's own client sockets in TIME_WAIT
# could otherwise hold the port.
PORT=${PORT:-29123}

command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }
# AGENTSEND_BIN=path runs another build (to compare two builds back to back).
[ -n "${AGENTSEND_BIN:-}" ] || cargo build --release --quiet
BIN=${AGENTSEND_BIN:-$PWD/target/release/agentsend}
WORK=$(mktemp -d)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

start() { # $1 = rate limit
    if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
        echo "port $PORT is already in use; set PORT=..." >&2; exit 1
    fi
    (cd "$WORK" && AGENTSEND_LOG_LEVEL=warn exec "$BIN" --db "$WORK/bench.db" \
        --listen "127.0.0.1:$PORT" --smtp-listen 127.0.0.1:0 --rate-limit "$1" \
        >>"$WORK/stdout" 2>>"$WORK/stderr") &
    SERVER_PID=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && return; sleep 0.1; done
    echo "server did not start" >&2; cat "$WORK/stderr" >&2; exit 1
}
stop() { kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# wrk output -> "req/s p50_ms p99_ms"
run_wrk() { # $1 = path, rest = extra wrk args
    local path=$1; shift
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "http://127.0.0.1:$PORT$path" |
        awk '
            function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
            /Requests\/sec/ { rps=$2 }
            /^ +50%/ { p50=ms($2) }
            /^ +99%/ { p99=ms($2) }
            /Non-2xx/ { bad=$NF }
            END { if (bad > 0) { print "non-2xx responses: " bad > "/dev/stderr"; exit 1 } printf "%.0f %.2f %.2f\n", rps, p50, p99 }'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

start 0
KEY=$(grep -o 'ask_[A-Za-z0-9_-]\{40\}' "$WORK/stdout" | head -1)
[ -n "$KEY" ] || { echo "no API key printed on first start" >&2; exit 1; }
INBOX=$(curl -fs -X POST -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/inboxes" | sed 's/.*"id":"\([^"]*\)".*/\1/')
sleep 1
IDLE_RSS=$(rss_kb "$SERVER_PID")
stop

declare -A RPS P50 P99 LOADED_RSS
for mode in off on; do
    limit=0; [ "$mode" = on ] && limit=1000000000
    start "$limit"
    for case in health inbox; do
        rps=(); p50=(); p99=()
        for _ in $(seq "$ROUNDS"); do
            if [ "$case" = health ]; then
                read -r r a b < <(run_wrk /health)
            else
                read -r r a b < <(run_wrk "/inboxes/$INBOX" -H "Authorization: Bearer $KEY")
            fi
            rps+=("$r"); p50+=("$a"); p99+=("$b")
        done
        RPS[$mode-$case]=$(printf '%s\n' "${rps[@]}" | median)
        P50[$mode-$case]=$(printf '%s\n' "${p50[@]}" | median)
        P99[$mode-$case]=$(printf '%s\n' "${p99[@]}" | median)
    done
    LOADED_RSS[$mode]=$(rss_kb "$SERVER_PID")
    stop
done

echo "AgentSend HTTP benchmark: $(nproc) cores, wrk -t$THREADS -c$CONNECTIONS -d$DURATION, median of $ROUNDS"
printf '%-28s %10s %9s %9s\n' case req/s p50_ms p99_ms
for mode in off on; do
    for case in health inbox; do
        label="rate limit $mode, $( [ "$case" = health ] && echo 'GET /health' || echo 'GET /inboxes/{id}')"
        printf '%-28s %10s %9s %9s\n' "$label" "${RPS[$mode-$case]}" "${P50[$mode-$case]}" "${P99[$mode-$case]}"
    done
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "ratio inbox/health, rate limit off: $(ratio "${RPS[off-inbox]}" "${RPS[off-health]}") (target >= 0.50)"
echo "ratio inbox/health, rate limit on:  $(ratio "${RPS[on-inbox]}" "${RPS[on-health]}") (target >= 0.33)"
echo "idle RSS: $((IDLE_RSS / 1024)) MiB (target < 30 MiB); after load: $((LOADED_RSS[off] / 1024)) MiB (limit off), $((LOADED_RSS[on] / 1024)) MiB (limit on)"
