#!/usr/bin/env bash
# Slow-connection flood (issue 13): CONNECTIONS connections at a time from one address
# (127.0.0.2), each sending a POST's head and one byte of body and then nothing (half with a
# made-up API key), reconnecting whenever the server closes one, for DURATION seconds, against
# a release build with its default limits. Twice: rate limiting off (keys are verified late, so
# the made-up ones wait for their body) and on (counting, but too high to trip). Meanwhile
# another client (127.0.0.1) asks GET /health and an authenticated GET every 20 ms. Prints
# their p50/p99 without and with the flood, the server's peak open files and RSS, and what
# became of the flood's connections. Needs python3 and curl.
#
#   bench/flood.sh
#   CONNECTIONS=20000 DURATION=30 bench/flood.sh
set -euo pipefail
cd "$(dirname "$0")/.."

export CONNECTIONS=${CONNECTIONS:-10000}
DURATION=${DURATION:-20}
PORT=${PORT:-29124}
export PORT

for tool in python3 curl; do
    command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)"
# AGENTSEND_BIN=path runs another build (to compare two builds back to back).
[ -n "${AGENTSEND_BIN:-}" ] || cargo build --release --quiet
BIN=${AGENTSEND_BIN:-$PWD/target/release/agentsend}
WORK=$(mktemp -d)
SERVER_PID=
KEY=
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
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

echo "AgentSend slow-connection flood: $(nproc) cores, $CONNECTIONS connections at a time from 127.0.0.2 for ${DURATION} s"
for limit in 0 1000000000; do
    start "$limit"
    if [ -z "${KEY:-}" ]; then
        KEY=$(grep -o 'ask_[A-Za-z0-9_-]\{40\}' "$WORK/stdout" | head -1)
        [ -n "$KEY" ] || { echo "no API key printed on first start" >&2; cat "$WORK/stderr" >&2; exit 1; }
        INBOX=$(curl -fs -X POST -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/inboxes" | sed 's/.*"id":"\([^"]*\)".*/\1/')
    fi
    export SERVER_PID KEY READ_PATH="/inboxes/$INBOX"
    IDLE_RSS=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$SERVER_PID/status")
    BASE=$(PROBE_ONLY=1 FLOOD_SECONDS=5 python3 bench/flood.py)
    FLOOD=$(FLOOD_SECONDS=$DURATION python3 bench/flood.py)
    sleep 1
    AFTER_RSS=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$SERVER_PID/status")
    AFTER_FDS=$(ls "/proc/$SERVER_PID/fd" | wc -l)
    stop

    echo
    echo "rate limiting $([ "$limit" = 0 ] && echo off || echo on)"
    printf '  %-24s %10s %10s\n' "" "no flood" "flood"
    for f in health_p50_ms health_p99_ms read_p50_ms read_p99_ms probes probe_failures peak_fds peak_rss_mib; do
        printf '  %-24s %10s %10s\n' "$f" "$(field "$BASE" "$f")" "$(field "$FLOOD" "$f")"
    done
    echo "  flood connections: $(field "$FLOOD" flood)"
    echo "  RSS: idle ${IDLE_RSS} MiB, 1 s after the flood ${AFTER_RSS} MiB; open files then: ${AFTER_FDS}"
done
echo
echo "targets: p99 of /health and of the authenticated GET during the flood < 100 ms; peak RSS < 100 MB"
