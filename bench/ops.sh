#!/usr/bin/env bash
# Operations benchmark (issue 21), against a release build:
#  1. metrics on vs off: the send load (wrk, 32 connections, POST /inboxes/{id}/messages in
#     dry-run) and the SMTP load (smtp-source, 20 sessions, 5 KB messages), alternating
#     on/off rounds; medians and the on/off ratio (target >= 0.97);
#  2. a backup of a ~1 GB database while sends are written: backup time and size, and the
#     write latency (wrk's p50/p99/max) with and without a backup running, i.e. how long the
#     writer stalls.
# Needs wrk, smtp-source (Debian: postfix), curl, sqlite3, python3.
#
#   bench/ops.sh                          # 5 rounds of 5 s / 5,000 messages each; 1 GB
#   ROUNDS=3 DB_MB=256 bench/ops.sh
#   PARTS=2 bench/ops.sh                  # only the backup part
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5s}
MESSAGES=${MESSAGES:-5000}
DB_MB=${DB_MB:-1024}
PORT=${PORT:-29131}
SMTP_PORT=${SMTP_PORT:-29132}
PATH="$PATH:/usr/sbin"
for tool in wrk smtp-source curl sqlite3 python3; do
    command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }
done
[ -n "${AGENTSEND_BIN:-}" ] || cargo build --release --quiet
BIN=${AGENTSEND_BIN:-$PWD/target/release/agentsend}
WORK=$(mktemp -d)
SERVER=
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }

start() { # $1 = database, $2 = metrics enabled (true/false)
    (cd "$WORK" && AGENTSEND_LOG_LEVEL=warn AGENTSEND_METRICS_ENABLED="$2" \
        AGENTSEND_SMTP_MAX_SESSIONS_PER_IP=100 exec "$BIN" --db "$1" \
        --listen "127.0.0.1:$PORT" --smtp-listen "127.0.0.1:$SMTP_PORT" --rate-limit 0 \
        >"$WORK/stdout" 2>"$WORK/stderr") &
    SERVER=$!
    for _ in $(seq 600); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
}
stop() { kill -TERM "$SERVER"; wait "$SERVER" || true; SERVER=; }

# A fresh database with its key, a sending inbox (limits raised for the run) and "bench".
fresh() { # $1 = metrics enabled
    rm -f "$WORK"/bench.db*
    start "$WORK/bench.db" "$1"
    KEY=$(grep -o 'ask_[A-Za-z0-9_-]\{40\}' "$WORK/stdout" | head -1)
    sqlite3 "$WORK/bench.db" "UPDATE accounts SET daily_send_limit = 100000000"
    SENDER=$(curl -fs -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        -d '{"address": "sender"}' "http://127.0.0.1:$PORT/inboxes" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    curl -fs -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        -d '{"address": "bench"}' "http://127.0.0.1:$PORT/inboxes" >/dev/null
    sqlite3 "$WORK/bench.db" "UPDATE inboxes SET daily_send_limit = 100000000"
}

cat > "$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"to": ["someone@example.com"], "subject": "benchmark", "bodyText": "hello"}'
LUA

sends() { # prints accepted sends/s
    wrk -t2 -c32 -d"$DURATION" -s "$WORK/post.lua" -H "Authorization: Bearer $KEY" \
        "http://127.0.0.1:$PORT/inboxes/$SENDER/messages" | awk '/Requests\/sec/ {print $2}'
}
smtp() { # prints messages/s stored
    local t0 t1
    t0=$(now)
    smtp-source -s 20 -l 5120 -m "$MESSAGES" -f bench@example.com \
        -t bench@agentsend.localhost "127.0.0.1:$SMTP_PORT" >/dev/null
    t1=$(now)
    awk -v n="$(sqlite3 "$WORK/bench.db" "SELECT count(*) FROM messages WHERE direction = 'inbound'")" \
        -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }'
}

PARTS=${PARTS:-12}
echo "AgentSend operations benchmark: $(nproc) cores"
if [[ $PARTS == *1* ]]; then
echo "1. metrics on vs off, $ROUNDS alternating rounds (send: wrk -c32 -d$DURATION; SMTP: smtp-source -s 20 -m $MESSAGES)"
declare -A SEND SMTP
for round in $(seq "$ROUNDS"); do
    for metrics in true false; do
        fresh "$metrics"; SEND[$metrics]+="$(sends) "; stop
        fresh "$metrics"; SMTP[$metrics]+="$(smtp) "; stop
    done
done
for kind in SEND SMTP; do
    declare -n runs=$kind
    on=$(printf '%s\n' ${runs[true]} | median)
    off=$(printf '%s\n' ${runs[false]} | median)
    printf '   %-4s metrics on %7.0f/s  off %7.0f/s  ratio %.3f (target >= 0.97)  [on: %s| off: %s]\n' \
        "$kind" "$on" "$off" "$(awk -v a="$on" -v b="$off" 'BEGIN { print a / b }')" "${runs[true]}" "${runs[false]}"
done

fi

[[ $PARTS == *2* ]] || exit 0
echo "2. backup of a ${DB_MB} MB database while sends are written"
fresh true
# The bulk: stored messages whose raw bytes do not compress (random), written straight into the
# file with the server stopped (filling it through SMTP would take minutes).
stop
python3 - "$WORK/bench.db" "$DB_MB" <<'PY'
import os, sqlite3, sys, uuid, time
db, mb = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
account, inbox = c.execute("SELECT account_id, id FROM inboxes WHERE address LIKE 'bench@%'").fetchone()
now = int(time.time() * 1000)
size = 256 * 1024
for n in range(mb * 1024 * 1024 // size):
    thread, msg = str(uuid.uuid4()), str(uuid.uuid4())
    c.execute("INSERT INTO threads (id, account_id, inbox_id, subject, message_count, last_message_at, created_at) VALUES (?, ?, ?, 'bulk', 1, ?, ?)", (thread, account, inbox, now, now))
    c.execute("INSERT INTO messages (id, account_id, inbox_id, thread_id, direction, status, from_address, subject, body_text, created_at, updated_at) VALUES (?, ?, ?, ?, 'inbound', 'received', 'bulk@example.com', 'bulk', 'bulk', ?, ?)", (msg, account, inbox, thread, now, now))
    c.execute("INSERT INTO message_raw (message_id, raw) VALUES (?, ?)", (msg, os.urandom(size)))
    if n % 512 == 0:
        c.commit()
c.commit()
PY
start "$WORK/bench.db" true
printf '   database %s MB\n' "$(( $(stat -c %s "$WORK/bench.db") / 1048576 ))"
latency() { # $1 = duration; prints "p50 p99 max" of sends
    wrk -t2 -c8 -d"$1" --latency -s "$WORK/post.lua" -H "Authorization: Bearer $KEY" \
        "http://127.0.0.1:$PORT/inboxes/$SENDER/messages" |
        awk '/^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /^ +Latency +[0-9]/ {max=$4} END {print p50, p99, max}'
}
read -r b50 b99 bmax <<<"$(latency 10s)"
echo "   sends without a backup (10 s):  p50 $b50  p99 $b99  max $bmax"
times=()
for round in $(seq 3); do
    rm -f "$WORK/backup.db"
    # The load outlasts the backup (it starts a second before it).
    latency "${BACKUP_LOAD:-20s}" > "$WORK/lat" &
    LOAD=$!
    sleep 1
    t0=$(now)
    env -u AGENTSEND_BIN "$BIN" --db "$WORK/bench.db" backup "$WORK/backup.db" >/dev/null
    t1=$(now)
    wait "$LOAD"
    read -r d50 d99 dmax < "$WORK/lat"
    took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    times+=("$took")
    echo "   round $round: backup $took s ($(( $(stat -c %s "$WORK/backup.db") / 1048576 )) MB); sends meanwhile: p50 $d50  p99 $d99  max $dmax"
done
echo "   backup time median $(printf '%s\n' "${times[@]}" | median) s"
# The disk's share: the same load while a plain copy of the same size is written and synced.
latency "${BACKUP_LOAD:-20s}" > "$WORK/lat" &
LOAD=$!
sleep 1
t0=$(now)
dd if="$WORK/backup.db" of="$WORK/copy.db" bs=4M conv=fsync status=none
t1=$(now)
wait "$LOAD"
read -r c50 c99 cmax < "$WORK/lat"
echo "   reference, dd copy of the backup file with fsync ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s): sends meanwhile: p50 $c50  p99 $c99  max $cmax"
stop
