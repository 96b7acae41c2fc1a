#!/usr/bin/env bash
# Memory under large data (issue 13): eight SMTP sessions at once each sending a 20 MiB
# message, then (on a fresh server) twelve clients at once each uploading a 10 MiB attachment,
# three rounds each, against a release build with the default memory budget
# (limits.max_buffered_bytes, 128 MiB). Prints the replies (250 stored / 452 come back later;
# 201 stored / 503 busy), the server's peak RSS and its RSS a second later. Target: the peak
# stays below the budget + 64 MB. Needs python3 and curl.
#
#   bench/memory.sh
#   SMTP_CLIENTS=16 UPLOAD_CLIENTS=24 bench/memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-29125}
SMTP_PORT=${SMTP_PORT:-29126}
export PORT SMTP_PORT
for tool in python3 curl; do
    command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }
done
# AGENTSEND_BIN=path runs another build (to compare two builds back to back).
[ -n "${AGENTSEND_BIN:-}" ] || cargo build --release --quiet
BIN=${AGENTSEND_BIN:-$PWD/target/release/agentsend}
WORK=$(mktemp -d)
SERVER_PID=
KEY=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

start() {
    (cd "$WORK" && AGENTSEND_LOG_LEVEL=warn exec "$BIN" --db "$WORK/bench.db" \
        --listen "127.0.0.1:$PORT" --smtp-listen "127.0.0.1:$SMTP_PORT" --rate-limit 0 \
        >>"$WORK/stdout" 2>>"$WORK/stderr") &
    SERVER_PID=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && return; sleep 0.1; done
    echo "server did not start" >&2; cat "$WORK/stderr" >&2; exit 1
}
stop() { kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=; }

echo "AgentSend memory under large data: $(nproc) cores, default budget (128 MiB), target peak < 192 MiB"
for phase in smtp uploads; do
    start
    if [ -z "$KEY" ]; then
        KEY=$(grep -o 'ask_[A-Za-z0-9_-]\{40\}' "$WORK/stdout" | head -1)
        curl -fs -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
            -d '{"address": "big"}' "http://127.0.0.1:$PORT/inboxes" >/dev/null
    fi
    echo "idle RSS: $(awk '/VmRSS/ {print int($2/1024)}' "/proc/$SERVER_PID/status") MiB"
    SERVER_PID=$SERVER_PID KEY=$KEY INBOX_ADDRESS=big@agentsend.localhost python3 bench/memory.py "$phase"
    stop
done
