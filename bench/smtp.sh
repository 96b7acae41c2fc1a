#!/usr/bin/env bash
# SMTP ingestion benchmark (issue 4): postfix's smtp-source with 20 parallel sessions, a new
# connection per message (its default) and 5 KB messages into one inbox, against a release
# build. Prints messages/s accepted and stored, the server's peak RSS, and the same load
# against smtp-sink (accepts and discards) as this machine's ceiling. Median of ROUNDS runs.
# Needs smtp-source and smtp-sink (Debian: apt-get install postfix; the MTA need not run),
# curl and sqlite3.
#
#   bench/smtp.sh                       # 3 rounds of 10,000 messages
#   ROUNDS=5 MESSAGES=20000 bench/smtp.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
MESSAGES=${MESSAGES:-10000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-5120}
# Below Linux's ephemeral port range, where a load run's own client sockets in TIME_WAIT
# could otherwise hold the port.
HTTP_PORT=${HTTP_PORT:-29124}
SMTP_PORT=${SMTP_PORT:-29125}
SINK_PORT=${SINK_PORT:-29126}
PATH="$PATH:/usr/sbin"

for tool in smtp-source smtp-sink sqlite3 curl; do
    command -v "$tool" >/dev/null || { echo "$tool is required (apt-get install postfix sqlite3 curl)" >&2; exit 1; }
done
# AGENTSEND_BIN=path runs another build (to compare two builds back to back).
[ -n "${AGENTSEND_BIN:-}" ] || cargo build --release --quiet
BIN=${AGENTSEND_BIN:-$PWD/target/release/agentsend}
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

now() { date +%s.%N; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

run_source() { # $1 = port; prints elapsed seconds
    local start end
    start=$(now)
    smtp-source -s "$SESSIONS" -l "$SIZE" -m "$MESSAGES" -f bench@example.com \
        -t bench@agentsend.localhost "127.0.0.1:$1" >/dev/null
    end=$(now)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}

server_rates=(); stored_rates=(); peaks=(); sink_rates=()
for round in $(seq "$ROUNDS"); do
    rm -f "$WORK"/bench.db*
    # All sessions come from one host here: let it have every session (a session's slot is
    # given back a moment after its QUIT, while smtp-source already opens the next one).
    (cd "$WORK" && AGENTSEND_LOG_LEVEL=warn AGENTSEND_SMTP_MAX_SESSIONS_PER_IP=100 \
        exec "$BIN" --db "$WORK/bench.db" \
        --listen "127.0.0.1:$HTTP_PORT" --smtp-listen "127.0.0.1:$SMTP_PORT" --rate-limit 0 \
        >"$WORK/stdout" 2>"$WORK/stderr") &
    SERVER=$!; PIDS+=("$SERVER")
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$HTTP_PORT/health" >/dev/null && break; sleep 0.1; done
    KEY=$(grep -o 'ask_[A-Za-z0-9_-]\{40\}' "$WORK/stdout" | head -1)
    curl -fs -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        -d '{"address": "bench"}' "http://127.0.0.1:$HTTP_PORT/inboxes" >/dev/null
    # Peak RSS, sampled every 100 ms while the load runs.
    (peak=0; while kill -0 "$SERVER" 2>/dev/null; do
        rss=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status" 2>/dev/null || echo 0)
        [ "${rss:-0}" -gt "$peak" ] && peak=$rss && echo "$peak" > "$WORK/peak"
        sleep 0.1; done) &
    SAMPLER=$!; PIDS+=("$SAMPLER")
    elapsed=$(run_source "$SMTP_PORT")
    stored=$(sqlite3 "$WORK/bench.db" "SELECT count(*) FROM messages")
    server_rates+=("$(rate "$MESSAGES" "$elapsed")")
    stored_rates+=("$(rate "$stored" "$elapsed")")
    peaks+=("$(( $(cat "$WORK/peak") / 1024 ))")
    if [ "$stored" -ne "$MESSAGES" ]; then
        echo "round $round: $MESSAGES messages sent, $stored stored" >&2
    fi
    kill -TERM "$SERVER"; wait "$SERVER" || true; kill "$SAMPLER" 2>/dev/null || true

    # smtp-sink drops privileges when run as root and must be told to whom.
    sink_user=(); [ "$(id -u)" = 0 ] && sink_user=(-u nobody)
    smtp-sink "${sink_user[@]}" "127.0.0.1:$SINK_PORT" 256 >/dev/null 2>&1 &
    SINK=$!; PIDS+=("$SINK")
    sleep 0.3
    sink_rates+=("$(rate "$MESSAGES" "$(run_source "$SINK_PORT")")")
    kill "$SINK"; wait "$SINK" 2>/dev/null || true
done

accepted=$(printf '%s\n' "${server_rates[@]}" | median)
stored=$(printf '%s\n' "${stored_rates[@]}" | median)
sink=$(printf '%s\n' "${sink_rates[@]}" | median)
peak=$(printf '%s\n' "${peaks[@]}" | sort -n | tail -1)
echo "AgentSend SMTP benchmark: $(nproc) cores; smtp-source -s $SESSIONS -l $SIZE -m $MESSAGES, new connection per message; median of $ROUNDS"
echo "runs (accepted msg/s): ${server_rates[*]}; smtp-sink runs: ${sink_rates[*]}"
echo "accepted: $accepted msg/s; stored end to end: $stored msg/s (target >= 2000)"
echo "smtp-sink ceiling: $sink msg/s; AgentSend / smtp-sink: $(awk -v a="$stored" -v b="$sink" 'BEGIN { printf "%.2f", a / b }') (target >= 0.25)"
echo "peak server RSS during the runs: $peak MiB (target < 100 MiB)"
