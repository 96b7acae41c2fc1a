#!/usr/bin/env bash
# Search benchmark (issue 18): one inbox grown to SIZE messages (default 1,000,000) of about
# 2 KB each, every body its own text drawn from a 20,000-word vocabulary by Zipf's law
# (examples/populate.rs --vary-bodies, the receiver's own store call, which indexes each
# message in its transaction), then wrk on GET /messages/search with one-word and two-word
# queries of common, middling and rare words, newest first and by rank, against a release
# build, rate limiting off. Prints each query's latency as one client sees it (wrk with one
# connection: p50 and p99, the target being p99 < 50 ms) and the throughput of CONNECTIONS
# clients at once (req/s), medians of ROUNDS runs; how many messages each query matches; the
# database size.
#
#   bench/search.sh                        # 1,000,000 messages, 3 rounds of 5 s per query
#   SIZE=100000 ROUNDS=5 bench/search.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-8}
THREADS=${THREADS:-2}
SIZE=${SIZE:-1000000}
BODY=${BODY:-2048}
PORT=${PORT:-29132}

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
run_wrk() { # $1 = path, $2 = connections
    wrk -t"$(( $2 < THREADS ? $2 : THREADS ))" -c"$2" -d"$DURATION" --latency -H "Authorization: Bearer $KEY" \
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

# The vocabulary word of a rank, as examples/populate.rs makes it (syllables in base 16).
SYLLABLES=(ka lo mi ne ru sa ti vo pe da go hu ji be fa zo)
word() {
    local n=$1 w=
    while :; do w+=${SYLLABLES[$((n % 16))]}; n=$((n / 16)); [ "$n" -eq 0 ] && break; done
    echo "$w"
}

start
KEY=$(grep -o 'ask_[A-Za-z0-9_-]\{40\}' "$WORK/stdout" | head -1)
[ -n "$KEY" ] || { echo "no API key printed on first start" >&2; exit 1; }
CREATED=$(curl -fs -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d '{"address":"bench"}' "http://127.0.0.1:$PORT/inboxes")
ADDRESS=$(echo "$CREATED" | sed 's/.*"address":"\([^"]*\)".*/\1/')
stop

t0=$(date +%s.%N)
"$POPULATE" --db "$WORK/bench.db" --inbox "$ADDRESS" --count "$SIZE" --body-bytes "$BODY" \
    --vary-bodies 2>/dev/null
t1=$(date +%s.%N)
start
total=$(api "/inboxes/$(echo "$CREATED" | sed 's/.*"id":"\([^"]*\)".*/\1/')/messages?limit=1" |
    sed 's/.*"total":\([0-9]*\).*/\1/')
[ "$total" = "$SIZE" ] || { echo "inbox holds $total messages, expected $SIZE" >&2; exit 1; }

# name|query: one word common (in nearly every message), middling (about a quarter), rare
# (about 0.3 %); two words of each kind; a phrase and a prefix; by rank.
CASES=(
    "1 word, common|$(word 0)"
    "1 word, middling|$(word 99)"
    "1 word, rare|$(word 9999)"
    "2 words, common|$(word 1)%20$(word 2)"
    "2 words, middling|$(word 99)%20$(word 150)"
    "2 words, rare|$(word 999)%20$(word 4999)"
    "phrase|%22Message%20$((SIZE / 2))%20of%22"
    "prefix|$(word 77)*"
    "1 word, middling, rank|$(word 99)&order=rank"
    "1 word, rare, rank|$(word 9999)&order=rank"
)
declare -A RESULT MATCHES
for case in "${CASES[@]}"; do
    name=${case%%|*}; query=${case#*|}
    path="/messages/search?q=$query&limit=20"
    MATCHES[$name]=$(api "$path" | sed 's/.*"total":\([0-9]*\).*/\1/')
    rps=(); p50=(); p99=()
    for _ in $(seq "$ROUNDS"); do
        read -r _ a b < <(run_wrk "$path" 1)
        read -r r _ _ < <(run_wrk "$path" "$CONNECTIONS")
        rps+=("$r"); p50+=("$a"); p99+=("$b")
    done
    RESULT[$name]="$(printf '%s\n' "${rps[@]}" | median) $(printf '%s\n' "${p50[@]}" | median) $(printf '%s\n' "${p99[@]}" | median)"
done
stop
db=$(( $(stat -c %s "$WORK/bench.db") + $(stat -c %s "$WORK/bench.db-wal" 2>/dev/null || echo 0) ))

echo "AgentSend search benchmark: $(nproc) cores, $SIZE messages of ~$BODY bytes, wrk -d$DURATION (latency: 1 connection; req/s: $CONNECTIONS), median of $ROUNDS"
echo "stored and indexed in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", b-a}') s ($(awk -v a="$t0" -v b="$t1" -v n="$SIZE" 'BEGIN{printf "%.0f", n/(b-a)}') messages/s through the store); database $((db / 1024 / 1024)) MiB"
printf '%-24s %9s %9s %9s %9s  %s\n' query matches req/s p50_ms p99_ms "target p99 < 50 ms"
for case in "${CASES[@]}"; do
    name=${case%%|*}
    read -r r a b <<<"${RESULT[$name]}"
    verdict=$(awk -v p="$b" 'BEGIN{print (p < 50) ? "met" : "NOT met"}')
    printf '%-24s %9s %9s %9s %9s  %s\n' "$name" "${MATCHES[$name]}" "$r" "$a" "$b" "$verdict"
done
echo "(matches: total counts at most 1,000)"
