#!/usr/bin/env bash
# List benchmark (issue 15): one inbox grown to 1,000, 100,000 and 1,000,000 messages (small
# mails, each its own thread, stored through the store by examples/populate.rs), then wrk on
#   GET /inboxes/{id}/messages?limit=20           the first page
#   GET /inboxes/{id}/messages?limit=20&offset=N  a page 90 % of the way down (old clients)
#   GET /inboxes/{id}/messages?limit=20&cursor=C  the same page by cursor
#   GET /inboxes/{id}/threads?limit=20            the first page of threads
# against a release build, rate limiting off, as medians of ROUNDS runs; prints each figure
# next to its target and the figure before this work, and the database size per size.
#
#   bench/lists.sh                       # 1k, 100k, 1M; 3 rounds of 5 s per case
#   SIZES="1000 100000" ROUNDS=5 bench/lists.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
SIZES=${SIZES:-"1000 100000 1000000"}
PORT=${PORT:-29128}

command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }
[ -n "${AGENTSEND_BIN:-}" ] || cargo build --release --quiet
cargo build --release --quiet --example populate
BIN=${AGENTSEND_BIN:-$PWD/target/release/agentsend}
POPULATE=$PWD/target/release/examples/populate
WORK=$(mktemp -d)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

start() {
    if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
        echo "port $PORT is already in use; set PORT=..." >&2; exit 1
    fi
    (cd "$WORK" && AGENTSEND_LOG_LEVEL=warn exec "$BIN" --db "$WORK/bench.db" \
        --listen "127.0.0.1:$PORT" --smtp-listen 127.0.0.1:0 --rate-limit 0 \
        >>"$WORK/stdout" 2>>"$WORK/stderr") &
    SERVER_PID=$!
    for _ in $(seq 300); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && return; sleep 0.1; done
    echo "server did not start" >&2; cat "$WORK/stderr" >&2; exit 1
}
stop() { kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=; }

# wrk output -> "req/s p50_ms p99_ms"
run_wrk() { # $1 = path
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $KEY" \
        "http://127.0.0.1:$PORT$1" |
        awk '
            function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
            /Requests\/sec/ { rps=$2 }
            /^ +50%/ { p50=ms($2) }
            /^ +99%/ { p99=ms($2) }
            /Non-2xx/ { bad=$NF }
            END { if (bad > 0) { print "non-2xx responses: " bad > "/dev/stderr"; exit 1 } printf "%.0f %.2f %.2f\n", rps, p50, p99 }'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
api() { curl -fs -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT$1"; }

start
KEY=$(grep -o 'ask_[A-Za-z0-9_-]\{40\}' "$WORK/stdout" | head -1)
[ -n "$KEY" ] || { echo "no API key printed on first start" >&2; exit 1; }
CREATED=$(curl -fs -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d '{"address":"bench"}' "http://127.0.0.1:$PORT/inboxes")
INBOX=$(echo "$CREATED" | sed 's/.*"id":"\([^"]*\)".*/\1/')
ADDRESS=$(echo "$CREATED" | sed 's/.*"address":"\([^"]*\)".*/\1/')
stop

declare -A RESULT
have=0
for size in $SIZES; do
    "$POPULATE" --db "$WORK/bench.db" --inbox "$ADDRESS" --count $((size - have)) 2>/dev/null
    have=$size
    start
    deep=$((size * 9 / 10))
    # The cursor of the row just above the deep page, found once by offset.
    CURSOR=$(api "/inboxes/$INBOX/messages?limit=1&offset=$((deep - 1))" |
        sed 's/.*"nextCursor":"\([^"]*\)".*/\1/')
    total=$(api "/inboxes/$INBOX/messages?limit=1" | sed 's/.*"total":\([0-9]*\).*/\1/')
    [ "$total" = "$size" ] || { echo "inbox holds $total messages, expected $size" >&2; exit 1; }
    for case in first offset cursor threads; do
        case $case in
            first) path="/inboxes/$INBOX/messages?limit=20" ;;
            offset) path="/inboxes/$INBOX/messages?limit=20&offset=$deep" ;;
            cursor) path="/inboxes/$INBOX/messages?limit=20&cursor=$CURSOR" ;;
            threads) path="/inboxes/$INBOX/threads?limit=20" ;;
        esac
        rps=(); p50=(); p99=()
        for _ in $(seq "$ROUNDS"); do
            read -r r a b < <(run_wrk "$path")
            rps+=("$r"); p50+=("$a"); p99+=("$b")
        done
        RESULT[$size-$case]="$(printf '%s\n' "${rps[@]}" | median) $(printf '%s\n' "${p50[@]}" | median) $(printf '%s\n' "${p99[@]}" | median)"
    done
    stop
    RESULT[$size-db]=$(( $(stat -c %s "$WORK/bench.db") + $(stat -c %s "$WORK/bench.db-wal" 2>/dev/null || echo 0) ))
done

echo "AgentSend list benchmark: $(nproc) cores, wrk -t$THREADS -c$CONNECTIONS -d$DURATION, median of $ROUNDS"
printf '%-10s %-8s %9s %9s %9s\n' messages case req/s p50_ms p99_ms
for size in $SIZES; do
    for case in first offset cursor threads; do
        printf '%-10s %-8s %9s %9s %9s\n' "$size" "$case" ${RESULT[$size-$case]}
    done
done
first_sizes=($SIZES)
small=${first_sizes[0]}
for size in $SIZES; do
    read -r r _ p99 <<<"${RESULT[$size-first]}"
    read -r rs _ _ <<<"${RESULT[$small-first]}"
    read -r _ _ cp99 <<<"${RESULT[$size-cursor]}"
    echo "$size messages: first page $(awk -v a="$rs" -v b="$r" 'BEGIN{printf "%.2f", a/b}')x slower than at $small (target <= 1.5; before: 19.9x at 100k), p99 $p99 ms (target < 20), deep cursor page p99 $cp99 ms (target < 20; by offset before: p50 347 ms at 100k); database $((RESULT[$size-db] / 1024 / 1024)) MiB"
done
