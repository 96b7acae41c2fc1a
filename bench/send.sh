#!/usr/bin/env bash
# Send benchmark (issue 5): POST /inboxes/{id}/messages with wrk (32 connections) against a
# release build, in dry-run mode (remote recipient) and local mode (recipient is another inbox
# here). Prints accepted sends/s, messages/s fully processed by the worker (queued -> sent or
# delivered), how far the worker lagged behind the load, and p50/p99 request-to-sent at low
# load (one client, one send at a time). Needs wrk, curl, sqlite3, python3.
#
#   bench/send.sh                    # 10 s of load per mode
#   DURATION=20s bench/send.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
# Below Linux's ephemeral port range, where a load run's own client sockets in TIME_WAIT
# could otherwise hold the port.
PORT=${PORT:-29127}
for tool in wrk curl sqlite3 python3; do
    command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }
done
# AGENTSEND_BIN=path runs another build (to compare two builds back to back).
[ -n "${AGENTSEND_BIN:-}" ] || cargo build --release --quiet
BIN=${AGENTSEND_BIN:-$PWD/target/release/agentsend}
WORK=$(mktemp -d)
SERVER=
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

start() {
    rm -f "$WORK"/bench.db*
    (cd "$WORK" && AGENTSEND_LOG_LEVEL=warn exec "$BIN" --db "$WORK/bench.db" \
        --listen "127.0.0.1:$PORT" --smtp-listen 127.0.0.1:0 --rate-limit 0 \
        >"$WORK/stdout" 2>"$WORK/stderr") &
    SERVER=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
    KEY=$(grep -o 'ask_[A-Za-z0-9_-]\{40\}' "$WORK/stdout" | head -1)
    # One inbox sends (with a daily limit high enough for the run), one receives.
    sqlite3 "$WORK/bench.db" "UPDATE accounts SET daily_send_limit = 100000000"
    SENDER=$(curl -fs -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        -d '{"address": "sender"}' "http://127.0.0.1:$PORT/inboxes" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    curl -fs -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        -d '{"address": "receiver"}' "http://127.0.0.1:$PORT/inboxes" >/dev/null
    sqlite3 "$WORK/bench.db" "UPDATE inboxes SET daily_send_limit = 100000000"
}
stop() { kill -TERM "$SERVER"; wait "$SERVER" || true; SERVER=; }

# Waits until no send job is pending or running.
drain() {
    for _ in $(seq 600); do
        left=$(sqlite3 -cmd ".timeout 5000" "$WORK/bench.db" "SELECT count(*) FROM jobs WHERE status IN ('pending','running')")
        [ "$left" = 0 ] && return
        sleep 0.1
    done
    echo "the queue did not drain" >&2; exit 1
}

report() { # $1 = mode label
    sqlite3 -separator ' ' "$WORK/bench.db" "
        SELECT count(*),
               (max(coalesce(sent_at, updated_at)) - min(created_at)) / 1000.0,
               (max(coalesce(sent_at, updated_at)) - max(created_at)) / 1000.0
        FROM messages WHERE direction = 'outbound'" | {
        read -r n span lag
        printf '%-7s accepted %6.0f sends/s (wrk %s)  processed %6.0f msg/s  worker lag at the end %.2f s\n' \
            "$1" "$ACCEPTED" "$DURATION" "$(awk -v n="$n" -v s="$span" 'BEGIN { print n / s }')" "$lag"
    }
    sqlite3 "$WORK/bench.db" "SELECT status, delivery, count(*) FROM messages WHERE direction = 'outbound' GROUP BY 1, 2" |
        sed 's/^/        outbound messages by status|delivery|count: /'
}

low_load() { # $1 = recipient; prints p50/p99 request-to-sent over 200 sequential sends
    sqlite3 -cmd ".timeout 5000" "$WORK/bench.db" "DELETE FROM jobs"
    local since
    since=$(python3 -c 'import time; print(int(time.time() * 1000))')
    for _ in $(seq 200); do
        curl -fs -o /dev/null -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
            -d "{\"to\": [\"$1\"], \"subject\": \"low load\", \"bodyText\": \"hello\"}" \
            "http://127.0.0.1:$PORT/inboxes/$SENDER/messages"
    done
    drain
    sqlite3 "$WORK/bench.db" "SELECT sent_at - created_at FROM messages
        WHERE direction = 'outbound' AND created_at >= $since AND sent_at IS NOT NULL ORDER BY 1" |
        awk '{a[NR]=$1} END { printf "        low load, request to sent: p50 %d ms, p99 %d ms (target p99 < 50 ms)\n", a[int(NR*0.5)+1], a[int(NR*0.99)] }'
}

cat > "$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BODY")
LUA

echo "AgentSend send benchmark: $(nproc) cores, wrk -t2 -c$CONNECTIONS -d$DURATION"
for mode in dry-run local; do
    start
    to="someone@example.com"; [ "$mode" = local ] && to="receiver@agentsend.localhost"
    export BODY="{\"to\": [\"$to\"], \"subject\": \"benchmark\", \"bodyText\": \"$(head -c 2000 /dev/zero | tr '\0' 'x')\"}"
    ACCEPTED=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" -s "$WORK/post.lua" \
        -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/inboxes/$SENDER/messages" |
        awk '/Requests\/sec/ {print $2} /Non-2xx/ {print "non-2xx: " $0 > "/dev/stderr"}')
    drain
    report "$mode"
    low_load "$to"
    stop
done
