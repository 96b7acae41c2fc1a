#!/usr/bin/env bash
# SQLite next to PostgreSQL, one node and two (issue 22): sends accepted (wrk POSTs of dry-run
# sends, 32 connections, split over the nodes) and SMTP mail stored (postfix's smtp-source, 20
# sessions, 5 KB messages, split over the nodes), on a release build. PostgreSQL is a
# throwaway local cluster (.ci/postgres; durability settings off, as for tests: the figures
# compare the server's own work, not the disks). Prints each setup's median of ROUNDS runs and
# the ratios. Needs wrk, smtp-source (apt-get install wrk postfix), curl, python3, and
# PostgreSQL from Debian's packages (installed by .ci/postgres when missing).
#
#   bench/postgres.sh                 # 3 rounds; 10 s of sends, 6,000 messages per setup
#   ROUNDS=5 DURATION=20s MESSAGES=10000 bench/postgres.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
MESSAGES=${MESSAGES:-6000}
PG_PORT=${PG_PORT:-29140}
PATH="$PATH:/usr/sbin"
for tool in wrk smtp-source curl python3; do
    command -v "$tool" >/dev/null || { echo "$tool is required (apt-get install wrk postfix)" >&2; exit 1; }
done
[ -n "${AGENTSEND_BIN:-}" ] || cargo build --release --quiet
BIN=${AGENTSEND_BIN:-$PWD/target/release/agentsend}
WORK=$(mktemp -d)
chmod 755 "$WORK"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    .ci/postgres stop "$WORK/pg" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
ADMIN=$(.ci/postgres start "$WORK/pg" "$PG_PORT")
psql_admin() { psql "$ADMIN" -qAtc "$1"; }

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
api() { # $1 = port, $2 = method, $3 = path, $4 = body
    curl -fs -X "$2" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        ${4:+-d "$4"} "http://127.0.0.1:$1$3"
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# Starts `$2` nodes on database `$1` (a file path or a URL); node n listens on 2915n/2916n.
start() {
    local db=$1 nodes=$2 n
    NODES=()
    for n in $(seq "$nodes"); do
        (cd "$WORK" && AGENTSEND_LOG_LEVEL=warn AGENTSEND_SMTP_MAX_SESSIONS_PER_IP=100 \
            AGENTSEND_LIMITS_ACCOUNT_DAILY_SEND_LIMIT=100000000 \
            AGENTSEND_LIMITS_INBOX_DAILY_SEND_LIMIT=100000000 \
            exec "$BIN" --db "$db" --listen "127.0.0.1:2915$n" --smtp-listen "127.0.0.1:2916$n" \
            --rate-limit 0 >"$WORK/stdout$n" 2>"$WORK/stderr$n") &
        PIDS+=("$!"); NODES+=("$!")
        for _ in $(seq 200); do curl -fs "http://127.0.0.1:2915$n/health" >/dev/null && break; sleep 0.1; done
        # The first node creates the default account and prints its key.
        [ "$n" = 1 ] && KEY=$(grep -o 'ask_[A-Za-z0-9_-]\{40\}' "$WORK/stdout1" | head -1)
    done
    SENDER=$(api 29151 POST /inboxes '{"address": "sender"}' | field '["id"]')
    RECEIVER=$(api 29151 POST /inboxes '{"address": "bench"}' | field '["id"]')
}
stop() { local p; for p in "${NODES[@]}"; do kill -TERM "$p"; wait "$p" || true; done; }

# Sends accepted per second, wrk split over the nodes (16 connections each with two nodes).
sends() { # $1 = nodes
    local n per=$((32 / $1)) total=0 rate loads=()
    export BODY='{"to": ["someone@example.com"], "subject": "benchmark", "bodyText": "hello"}'
    for n in $(seq "$1"); do
        wrk -t1 -c"$per" -d"$DURATION" -s "$WORK/post.lua" -H "Authorization: Bearer $KEY" \
            "http://127.0.0.1:2915$n/inboxes/$SENDER/messages" >"$WORK/wrk$n" &
        loads+=("$!")
    done
    wait "${loads[@]}"
    for n in $(seq "$1"); do
        grep -q "Non-2xx" "$WORK/wrk$n" && { echo "non-2xx answers:" >&2; cat "$WORK/wrk$n" >&2; }
        rate=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk$n")
        total=$(awk -v a="$total" -v b="$rate" 'BEGIN { printf "%.0f", a + b }')
    done
    echo "$total"
}

# SMTP messages stored per second: smtp-source split over the nodes, counted through the API.
smtp() { # $1 = nodes
    local n per=$((MESSAGES / $1)) start end stored loads=()
    start=$(date +%s.%N)
    for n in $(seq "$1"); do
        smtp-source -s $((20 / $1)) -l 5120 -m "$per" -f bench@example.com \
            -t bench@agentsend.localhost "127.0.0.1:2916$n" >/dev/null &
        loads+=("$!")
    done
    wait "${loads[@]}"
    end=$(date +%s.%N)
    stored=$(api 29151 GET "/inboxes/$RECEIVER/messages?limit=1" | field '["total"]')
    [ "$stored" -eq $((per * $1)) ] || echo "$((per * $1)) messages sent, $stored stored" >&2
    awk -v n="$stored" -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", n / (b - a) }'
}

cat > "$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BODY")
LUA

echo "AgentSend on SQLite and PostgreSQL: $(nproc) cores, $ROUNDS rounds, wrk $DURATION, $MESSAGES SMTP messages"
declare -A SENDS SMTP
for setup in sqlite pg1 pg2; do
    s=(); m=()
    for round in $(seq "$ROUNDS"); do
        case $setup in
        sqlite) rm -f "$WORK"/bench.db*; start "$WORK/bench.db" 1; nodes=1 ;;
        pg*) psql_admin "DROP DATABASE IF EXISTS bench WITH (FORCE)"; psql_admin "CREATE DATABASE bench"
             nodes=${setup#pg}; start "${ADMIN%/postgres}/bench" "$nodes" ;;
        esac
        s+=("$(sends "$nodes")")
        m+=("$(smtp "$nodes")")
        stop
    done
    SENDS[$setup]=$(printf '%s\n' "${s[@]}" | median)
    SMTP[$setup]=$(printf '%s\n' "${m[@]}" | median)
    printf '%-7s sends accepted %s/s (runs: %s)   SMTP stored %s msg/s (runs: %s)\n' \
        "$setup" "${SENDS[$setup]}" "${s[*]}" "${SMTP[$setup]}" "${m[*]}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "PostgreSQL 1 node / SQLite:  sends $(ratio "${SENDS[pg1]}" "${SENDS[sqlite]}")  SMTP $(ratio "${SMTP[pg1]}" "${SMTP[sqlite]}")"
echo "PostgreSQL 2 nodes / 1 node: sends $(ratio "${SENDS[pg2]}" "${SENDS[pg1]}")  SMTP $(ratio "${SMTP[pg2]}" "${SMTP[pg1]}")  (target >= 1.6)"
