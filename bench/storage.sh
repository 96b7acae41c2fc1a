#!/usr/bin/env bash
# Storage benchmark (issue 15): bytes on disk per message.
#   received: MESSAGES received messages with a 2 KB text body, stored through the store
#             (examples/populate.rs: the SMTP receiver's store call), and the database size;
#   sent:     SENDS sends with a 2 KB body over HTTP, each with its own Idempotency-Key
#             (dry-run), drained; the growth of the database per send, and what the
#             idempotency records take.
# Sizes are of the checkpointed file (the server stopped), measured with sqlite3's dbstat.
# Prints each figure next to its target: at most 2x the raw message + 1 KB.
#
#   bench/storage.sh                      # 100,000 received, 5,000 sent
#   MESSAGES=20000 SENDS=2000 bench/storage.sh
set -euo pipefail
cd "$(dirname "$0")/.."

MESSAGES=${MESSAGES:-100000}
SENDS=${SENDS:-5000}
PORT=${PORT:-29129}
for tool in wrk curl sqlite3 python3; do
    command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }
done
[ -n "${AGENTSEND_BIN:-}" ] || cargo build --release --quiet
cargo build --release --quiet --example populate
BIN=${AGENTSEND_BIN:-$PWD/target/release/agentsend}
POPULATE=$PWD/target/release/examples/populate
WORK=$(mktemp -d)
SERVER=
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

start() {
    (cd "$WORK" && AGENTSEND_LOG_LEVEL=warn exec "$BIN" --db "$WORK/bench.db" \
        --listen "127.0.0.1:$PORT" --smtp-listen 127.0.0.1:0 --rate-limit 0 \
        >>"$WORK/stdout" 2>>"$WORK/stderr") &
    SERVER=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && return; sleep 0.1; done
    echo "server did not start" >&2; cat "$WORK/stderr" >&2; exit 1
}
stop() { kill -TERM "$SERVER"; wait "$SERVER" || true; SERVER=; }
size() { stat -c %s "$WORK/bench.db"; }
table_bytes() { # $1 = SQL LIKE pattern of table and index names
    sqlite3 "$WORK/bench.db" "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name LIKE '$1'"
}

start
KEY=$(grep -o 'ask_[A-Za-z0-9_-]\{40\}' "$WORK/stdout" | head -1)
sqlite3 -cmd ".timeout 5000" "$WORK/bench.db" "UPDATE accounts SET daily_send_limit = 100000000"
SENDER=$(curl -fs -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d '{"address": "sender"}' "http://127.0.0.1:$PORT/inboxes" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl -fs -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d '{"address": "receiver"}' "http://127.0.0.1:$PORT/inboxes" >/dev/null
sqlite3 -cmd ".timeout 5000" "$WORK/bench.db" "UPDATE inboxes SET daily_send_limit = 100000000"
stop
empty=$(size)

"$POPULATE" --db "$WORK/bench.db" --inbox receiver@agentsend.localhost --count "$MESSAGES" \
    --body-bytes 2000 2>/dev/null
# The raw size of a message, as the API returns it (stored compressed, so not from SQL).
raw_size() { # $1 = direction
    local total=0 n=0
    for id in $(sqlite3 -cmd ".timeout 5000" "$WORK/bench.db" \
        "SELECT id FROM messages WHERE direction = '$1' LIMIT 20"); do
        total=$((total + $(curl -fs -H "Authorization: Bearer $KEY" \
            "http://127.0.0.1:$PORT/messages/$id/raw" | wc -c)))
        n=$((n + 1))
    done
    echo $((total / n))
}
start
raw_avg=$(raw_size inbound)
stop   # the server's shutdown checkpoints the log into the file
received=$(size)

# Sends with an Idempotency-Key each.
cat > "$WORK/post.lua" <<'LUA'
local n = 0
request = function()
    n = n + 1
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Idempotency-Key"] = "storage-" .. n .. "-" .. math.random(1, 1000000000)
    return wrk.format("POST", nil, nil, os.getenv("BODY"))
end
LUA
BODY="{\"to\": [\"someone@example.com\"], \"subject\": \"storage\", \"bodyText\": \"$(python3 -c '
import random
random.seed(7)
words = "the report figures attached quarter north region moved again this month mostly second half please review before meeting".split()
text, line = [], []
while sum(len(w) + 1 for l in text for w in l) < 2000:
    line.append(random.choice(words))
    if len(" ".join(line)) > 70: text.append(line); line = []
print("\\n".join(" ".join(l) for l in text))' | sed 's/$/\\n/' | tr -d '\n')\"}"
export BODY
start
before=$(size)
sent=0
while [ "$sent" -lt "$SENDS" ]; do
    wrk -t1 -c4 -d1s -s "$WORK/post.lua" -H "Authorization: Bearer $KEY" \
        "http://127.0.0.1:$PORT/inboxes/$SENDER/messages" >/dev/null
    sent=$(sqlite3 -cmd ".timeout 5000" "$WORK/bench.db" "SELECT count(*) FROM messages WHERE direction = 'outbound'")
done
for _ in $(seq 600); do
    left=$(sqlite3 -cmd ".timeout 5000" "$WORK/bench.db" "SELECT count(*) FROM jobs WHERE status IN ('pending','running')")
    [ "$left" = 0 ] && break
    sleep 0.1
done
sent_raw=$(raw_size outbound)
stop
after=$(size)
breakdown=$(sqlite3 -separator ' ' "$WORK/bench.db" "SELECT name, sum(pgsize) / 1024 FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 10")
idem=$(table_bytes 'idempotency_keys%')
idem_rows=$(sqlite3 "$WORK/bench.db" "SELECT count(*) FROM idempotency_keys")
idem_body=$(sqlite3 "$WORK/bench.db" "SELECT avg(length(response_body)) FROM idempotency_keys")

echo "AgentSend storage benchmark: $MESSAGES received and $sent sent messages with 2 KB bodies"
awk -v e="$empty" -v r="$received" -v n="$MESSAGES" -v raw="$raw_avg" 'BEGIN {
    per = (r - e) / n
    printf "received: database %.0f MiB for %d messages; %.0f bytes per message (raw about %.0f; target <= %.0f = 2x raw + 1 KB; before: about 10 KB)\n", r / 1048576, n, per, raw, 2 * raw + 1024 }'
awk -v b="$before" -v a="$after" -v n="$sent" -v raw="$sent_raw" -v idem="$idem" -v rows="$idem_rows" -v body="$idem_body" 'BEGIN {
    per = (a - b) / n
    printf "sent: %.0f bytes per send, its idempotency record included (raw about %.0f; target <= %.0f); idempotency records %.0f bytes each on disk, their stored response body %.0f bytes (before: about 1 KB)\n", per, raw, 2 * raw + 1024, idem / rows, body }'
echo "largest tables and indexes after both (KiB):"
echo "$breakdown" | sed 's/^/    /'
