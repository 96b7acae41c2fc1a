#!/usr/bin/env bash
# Event stream benchmark (issue 16): 1,000 subscribers on one inbox, over SSE and then over
# WebSocket, while mail arrives over SMTP at 500 messages a second (examples/events_load.rs).
# For each: event-to-receipt latency p50/p99 (target p99 < 50 ms), the server's RSS per idle
# subscriber (target < 64 KB), and the SMTP ingest rate with the subscribers against the same
# run without any (target >= 90 %), both at the offered 500/s and as fast as SMTP goes.
# A fresh server (release build, its own database) per run; the load generator runs on the
# same machine and shares its cores.
#
#   bench/events.sh
#   SUBSCRIBERS=500 RATE=200 SECONDS_=10 bench/events.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SUBSCRIBERS=${SUBSCRIBERS:-1000}
RATE=${RATE:-500}
SECONDS_=${SECONDS_:-20}
HTTP_PORT=${HTTP_PORT:-29130}
SMTP_PORT=${SMTP_PORT:-29131}

[ -n "${AGENTSEND_BIN:-}" ] || cargo build --release --quiet
cargo build --release --quiet --example events_load
BIN=${AGENTSEND_BIN:-$PWD/target/release/agentsend}
LOAD=$PWD/target/release/examples/events_load
WORK=$(mktemp -d)
SERVER=
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

start() {
    rm -f "$WORK"/bench.db*
    # Every subscriber and SMTP session comes from 127.0.0.1: let it have them all.
    (cd "$WORK" && AGENTSEND_LOG_LEVEL=warn AGENTSEND_HTTP_MAX_CONNECTIONS_PER_IP=5000 \
        AGENTSEND_SMTP_MAX_SESSIONS_PER_IP=100 exec "$BIN" --db "$WORK/bench.db" \
        --listen "127.0.0.1:$HTTP_PORT" --smtp-listen "127.0.0.1:$SMTP_PORT" --rate-limit 0 \
        >"$WORK/stdout" 2>"$WORK/stderr") &
    SERVER=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$HTTP_PORT/health" >/dev/null && break; sleep 0.1; done
    KEY=$(grep -o 'ask_[A-Za-z0-9_-]\{40\}' "$WORK/stdout" | head -1)
    INBOX=$(curl -fs -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        -d '{"address": "load"}' "http://127.0.0.1:$HTTP_PORT/inboxes" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
}
stop() { kill -TERM "$SERVER"; wait "$SERVER" || true; SERVER=; }

run() { # $1 = mode, $2 = subscribers, $3 = rate, $4 = seconds
    start
    "$LOAD" --http "127.0.0.1:$HTTP_PORT" --smtp "127.0.0.1:$SMTP_PORT" --key "$KEY" \
        --inbox "$INBOX" --to load@agentsend.localhost --mode "$1" --subscribers "$2" \
        --rate "$3" --seconds "$4" --server-pid "$SERVER"
    stop
}

field() { python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(eval(sys.argv[2], {}, d))' "$1" "$2"; }

echo "== $SUBSCRIBERS subscribers, SMTP at $RATE msg/s for $SECONDS_ s"
base=$(run sse 0 "$RATE" "$SECONDS_")
sse=$(run sse "$SUBSCRIBERS" "$RATE" "$SECONDS_")
ws=$(run ws "$SUBSCRIBERS" "$RATE" "$SECONDS_")
echo "== SMTP as fast as it goes for 10 s"
base_max=$(run sse 0 0 10)
sse_max=$(run sse "$SUBSCRIBERS" 0 10)
ws_max=$(run ws "$SUBSCRIBERS" 0 10)

printf '%-32s %12s %12s %12s\n' "" none SSE WebSocket
for row in \
    "ingest msg/s at $RATE/s offered|ingestRate" \
    "deliveries received / expected|f'{deliveriesReceived}/{deliveriesExpected}'" \
    "event-to-receipt p50 ms|eventToReceiptMs['p50']" \
    "event-to-receipt p99 ms (<50)|eventToReceiptMs['p99']" \
    "submit-to-receipt p50 ms|submitToReceiptMs['p50']" \
    "submit-to-receipt p99 ms|submitToReceiptMs['p99']" \
    "RSS idle KiB|rssKiB['idle']" \
    "RSS bytes / idle subscriber (<64K)|rssBytesPerIdleSubscriber"; do
    label=${row%%|*}; expr=${row#*|}
    printf '%-32s %12s %12s %12s\n' "$label" "$(field "$base" "$expr")" "$(field "$sse" "$expr")" "$(field "$ws" "$expr")"
done
printf '%-32s %12s %12s %12s\n' "ingest msg/s, unpaced" "$(field "$base_max" ingestRate)" \
    "$(field "$sse_max" ingestRate)" "$(field "$ws_max" ingestRate)"
python3 - "$base" "$sse" "$ws" "$base_max" "$sse_max" "$ws_max" <<'EOF'
import json, sys
base, sse, ws, base_max, sse_max, ws_max = (json.loads(a) for a in sys.argv[1:])
for name, paced, unpaced in (("SSE", sse, sse_max), ("WebSocket", ws, ws_max)):
    print(f"{name}: ingest with subscribers / without: paced {paced['ingestRate'] / base['ingestRate']:.2f}, "
          f"unpaced {unpaced['ingestRate'] / base_max['ingestRate']:.2f} (target >= 0.90)")
EOF
