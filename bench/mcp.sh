#!/usr/bin/env bash
# MCP benchmark (issue 19): the `list_emails` tool called over Streamable HTTP
# (POST /mcp, JSON-RPC tools/call) next to the REST call it stands for
# (GET /inboxes/{id}/messages?limit=20), on the same server and the same page of 20 messages,
# with wrk against a release build, rate limiting off. Prints req/s and p50/p99 of each as
# medians of ROUNDS alternating runs, and the ratio MCP / REST (target: at least 0.50).
#
#   bench/mcp.sh
#   ROUNDS=5 DURATION=10s bench/mcp.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
MESSAGES=${MESSAGES:-40}
PORT=${PORT:-29131}

command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }
[ -n "${AGENTSEND_BIN:-}" ] || cargo build --release --quiet
BIN=${AGENTSEND_BIN:-$PWD/target/release/agentsend}
WORK=$(mktemp -d)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
    echo "port $PORT is already in use; set PORT=..." >&2; exit 1
fi
(cd "$WORK" && AGENTSEND_LOG_LEVEL=warn AGENTSEND_OUTBOUND_MODE=dry-run exec "$BIN" \
    --db "$WORK/bench.db" --listen "127.0.0.1:$PORT" --smtp-listen 127.0.0.1:0 --rate-limit 0 \
    >>"$WORK/stdout" 2>>"$WORK/stderr") &
SERVER_PID=$!
for _ in $(seq 300); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
KEY=$(grep -o 'ask_[A-Za-z0-9_-]\{40\}' "$WORK/stdout" | head -1)
[ -n "$KEY" ] || { echo "no key printed" >&2; cat "$WORK/stderr" >&2; exit 1; }
post() { curl -fs -H "Authorization: Bearer $KEY" -H 'content-type: application/json' -d "$2" "http://127.0.0.1:$PORT$1"; }

# One inbox with mail in it: messages it sends to itself (each stored sent and received).
INBOX=$(post /inboxes '{"address":"bench"}' | sed 's/.*"id":"\([^"]*\)".*/\1/')
for i in $(seq $((MESSAGES / 2))); do
    post "/inboxes/$INBOX/messages" "{\"to\":[\"bench@agentsend.localhost\"],\"subject\":\"Report $i\",\"bodyText\":\"Figures for week $i: all well, see the attached summary and reply with questions.\"}" >/dev/null
done
for _ in $(seq 100); do
    total=$(curl -fs -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/inboxes/$INBOX/messages?limit=1" | sed 's/.*"total":\([0-9]*\).*/\1/')
    [ "$total" -ge "$MESSAGES" ] && break
    sleep 0.1
done

CALL="{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"list_emails\",\"arguments\":{\"inboxId\":\"$INBOX\",\"limit\":20}}}"
# The tool call must work (a tool error would be a fast 200).
ANSWER=$(curl -fs -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \
    -H 'accept: application/json, text/event-stream' -H 'mcp-protocol-version: 2025-06-18' \
    -d "$CALL" "http://127.0.0.1:$PORT/mcp")
echo "$ANSWER" | grep -q '"isError":false' || { echo "list_emails failed: $ANSWER" >&2; exit 1; }
cat >"$WORK/mcp.lua" <<EOF
wrk.method = "POST"
wrk.body = '$CALL'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
EOF

# wrk output -> "req/s p50_ms p99_ms"
run_wrk() { # $@ = extra wrk arguments and the URL
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $KEY" "$@" |
        awk '
            function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
            /Requests\/sec/ { rps=$2 }
            /^ +50%/ { p50=ms($2) }
            /^ +99%/ { p99=ms($2) }
            /Non-2xx/ { bad=$NF }
            END { if (bad > 0) { print "non-2xx responses: " bad > "/dev/stderr"; exit 1 } printf "%.0f %.2f %.2f\n", rps, p50, p99 }'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: >"$WORK/rest"
: >"$WORK/mcp"
for round in $(seq "$ROUNDS"); do
    run_wrk "http://127.0.0.1:$PORT/inboxes/$INBOX/messages?limit=20" >>"$WORK/rest"
    run_wrk -s "$WORK/mcp.lua" "http://127.0.0.1:$PORT/mcp" >>"$WORK/mcp"
    echo "round $round: REST $(tail -1 "$WORK/rest")  MCP $(tail -1 "$WORK/mcp")" >&2
done
col() { awk -v c="$2" '{print $c}' "$WORK/$1" | median; }
REST_RPS=$(col rest 1); MCP_RPS=$(col mcp 1)
echo
echo "list_emails, a page of 20 messages: $ROUNDS rounds of $DURATION, $CONNECTIONS connections (medians)"
printf "%-22s %10s %9s %9s\n" "" "req/s" "p50 ms" "p99 ms"
printf "%-22s %10s %9s %9s\n" "REST GET messages" "$REST_RPS" "$(col rest 2)" "$(col rest 3)"
printf "%-22s %10s %9s %9s\n" "MCP tools/call" "$MCP_RPS" "$(col mcp 2)" "$(col mcp 3)"
awk -v m="$MCP_RPS" -v r="$REST_RPS" 'BEGIN { printf "MCP / REST throughput: %.2f (target >= 0.50)\n", m / r }'
